package bfd

import (
	"math/rand/v2"
	"time"
)

// slowTx is the least transmit interval while the session is not Up
// (RFC 5880 §6.8.3: not less than one second), so that a dead or absent
// peer costs one packet a second.
const slowTx = time.Second

// Defaults: FRR's 300 ms detection is too slow for the ECMP goal; 100 ms × 3
// is what BIRD and FRR both accept on a single-hop session.
const (
	DefaultInterval   = 100 * time.Millisecond
	DefaultDetectMult = 3
)

func usec(d time.Duration) uint32 { return uint32(d / time.Microsecond) }

func dur(us uint32) time.Duration { return time.Duration(us) * time.Microsecond }

// txInterval is the agreed transmit interval (§6.8.2, §6.8.7): the larger of
// our desired interval and what the peer can receive. ok is false when the
// peer asked for no packets at all (RemoteMinRxInterval zero).
func txInterval(desiredTx time.Duration, remoteMinRx uint32) (time.Duration, bool) {
	if remoteMinRx == 0 {
		return 0, false
	}
	return max(desiredTx, dur(remoteMinRx)), true
}

// detectTime is the asynchronous-mode detection time (§6.8.4): the remote
// multiplier times the larger of our required RX and its desired TX.
func detectTime(requiredRx time.Duration, remoteDesiredTx uint32, remoteMult uint8) time.Duration {
	return time.Duration(remoteMult) * max(requiredRx, dur(remoteDesiredTx))
}

// jitter shortens an interval by 0–25 %, or by 10–25 % when the detect
// multiplier is 1 (§6.8.7), so that sessions do not self-synchronise and a
// single late packet cannot trip a multiplier of one.
func jitter(d time.Duration, mult uint8, r *rand.Rand) time.Duration {
	lo, hi := 75, 100
	if mult == 1 {
		hi = 90
	}
	pct := lo + r.IntN(hi-lo+1)
	return d * time.Duration(pct) / 100
}
