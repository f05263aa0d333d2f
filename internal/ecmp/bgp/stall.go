package bgp

import (
	"fmt"
	"net/netip"
	"regexp"
	"time"

	bgppkt "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// A session that never reaches established says little by itself: GoBGP
// shows "active" or "opensent" and, before a session was ever up, no
// error at all. What it does show (how far the session got, for how long,
// and the NOTIFICATIONs exchanged) is enough to name the likely cause, as
// PeerState.Note: a GTSM mismatch (one side sends TTL 1, the other drops
// anything under 255: segments vanish without a trace), an AS or router
// ID mismatch, a password or address mismatch.

// stretch is one span of a session not being established: since it was
// configured, or since it last went down.
type stretch struct {
	since      time.Time
	state      string
	stateSince time.Time
	furthest   string  // the furthest state reached in the span
	failure    failure // the last NOTIFICATION of the span
}

// failure is a NOTIFICATION GoBGP sent or received.
type failure struct {
	sent          bool
	code, subcode uint8
	text          string // GoBGP's reason, e.g. "as number mismatch expected 64513, received 64999"
}

// stall is what is known of a session that is not established.
type stall struct {
	State     string        // now
	InState   time.Duration // how long it has been in State
	Furthest  string        // the furthest state it reached since configured or last up
	Down      time.Duration // not established for
	Failure   failure
	Hold      time.Duration
	Keepalive time.Duration
	GTSM      bool // TTL security on at this end
	Password  bool // TCP-MD5 configured
	LocalASN  uint32
	PeerASN   uint32
}

var stateRank = map[string]int{"idle": 0, "unknown": 0, "connect": 1, "active": 1, "opensent": 2, "openconfirm": 3, stateEstablished: 4}

var receivedAS = regexp.MustCompile(`received (\d+)`)

// stallNote names the likely cause of a session stuck before established,
// or returns "" while it is established or still coming up. A NOTIFICATION
// about the OPEN names its cause at once; silence is judged once the
// session has sat in OpenSent or OpenConfirm for a keepalive interval
// (normally it leaves within a round trip) or has not been established
// for a hold time.
func stallNote(s stall) string {
	if s.State == stateEstablished {
		return ""
	}
	if n := openRefused(s); n != "" {
		return n
	}
	waiting := s.State == "opensent" || s.State == "openconfirm"
	if !(waiting && s.InState >= max(s.Keepalive, time.Second)) && s.Down < s.Hold {
		return ""
	}
	phase := max(stateRank[s.State], stateRank[s.Furthest])
	switch {
	case phase >= stateRank["openconfirm"]:
		return "OPEN from peer but no KEEPALIVE: the peer does not get our packets: " + gtsmHint(s.GTSM) + ", or a firewall"
	case phase == stateRank["opensent"]:
		return "no OPEN from peer: " + gtsmHint(s.GTSM) + ", a firewall, or wrong address"
	}
	n := "no TCP connection: wrong address or port, the peer down or not configured for this address, a firewall"
	if s.Password {
		n += ", a TCP-MD5 password mismatch (the kernel drops wrongly signed segments without a word)"
	}
	return n + ", or " + gtsmHint(s.GTSM)
}

// openRefused explains a NOTIFICATION about the OPEN, in either direction.
func openRefused(s stall) string {
	f := s.Failure
	if f.code != bgppkt.BGP_ERROR_OPEN_MESSAGE_ERROR {
		return ""
	}
	switch f.subcode {
	case bgppkt.BGP_ERROR_SUB_BAD_PEER_AS:
		if !f.sent {
			return fmt.Sprintf("AS mismatch: the peer refused our AS %d (its neighbor entry for us names another)", s.LocalASN)
		}
		if m := receivedAS.FindStringSubmatch(f.text); m != nil {
			return fmt.Sprintf("AS mismatch: peer says %s, config says %d", m[1], s.PeerASN)
		}
		return fmt.Sprintf("AS mismatch: the peer's AS is not %d as configured", s.PeerASN)
	case bgppkt.BGP_ERROR_SUB_BAD_BGP_IDENTIFIER:
		return "router ID conflict: both sites use the same router_id (or it is invalid)"
	case bgppkt.BGP_ERROR_SUB_UNACCEPTABLE_HOLD_TIME:
		return "hold time refused: the peer accepts none under its minimum (hold_time)"
	}
	who := "the peer refused our OPEN"
	if f.sent {
		who = "we refused the peer's OPEN"
	}
	return fmt.Sprintf("%s: %s", who, bgppkt.NewNotificationErrorCode(f.code, f.subcode))
}

func gtsmHint(on bool) string {
	if on {
		return "GTSM mismatch (peer sends TTL 1? set `ttl security on` in BIRD, or [bgp] ttl_security = false for FRR)"
	}
	return "GTSM mismatch (peer requires TTL 255? turn its TTL security off, or set [bgp] ttl_security = true)"
}

// restart begins a new span for a (re)configured session.
func (b *peerBook) restart(a netip.Addr, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stretches[a] = &stretch{since: now, stateSince: now}
}

// step records a state in a's span; called with b.mu held.
func (b *peerBook) step(a netip.Addr, state string, wentDown bool, now time.Time) {
	st := b.stretches[a]
	if st == nil || wentDown || state == stateEstablished {
		st = &stretch{since: now, stateSince: now}
		b.stretches[a] = st
	}
	if st.state != state {
		st.state, st.stateSince = state, now
	}
	if stateRank[state] > stateRank[st.furthest] {
		st.furthest = state
	}
}

// notification records a NOTIFICATION for the span of the session at addr.
func (b *peerBook) notification(addr string, f failure) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.stretches[a.Unmap()]; st != nil {
		st.failure = f
	}
}

// stall returns what is known of a's span, for stallNote.
func (b *peerBook) stall(a netip.Addr, state string, now time.Time) stall {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stretches[a]
	if st == nil {
		return stall{State: state}
	}
	inState := now.Sub(st.stateSince)
	if st.state != state { // the watcher has not seen this state yet
		inState = 0
	}
	return stall{State: state, InState: inState, Furthest: st.furthest, Down: now.Sub(st.since), Failure: st.failure}
}
