package ecmp

import (
	"time"

	"github.com/uplinkd/uplinkd/internal/bfd"
)

// Liveness tracks whether each tunnel may carry traffic. A tunnel going
// down leaves at once; one coming back up returns only after it has stayed
// up for the hold-down, so a flapping carrier does not churn the FIB. The
// first time a tunnel comes up there is nothing to damp and it is alive at
// once.
type Liveness struct {
	holdDown time.Duration
	tunnels  map[string]*tunnelLive
}

type tunnelLive struct {
	up      bool
	since   time.Time // of the current state
	wasDown bool      // it has been down after being up: hold-down applies
	// peerAdminDown: up is kept although BFD is not Up, because the peer
	// took the session down on purpose (see ObserveBFD).
	peerAdminDown bool
	// noCarrier: the carrier link under the tunnel has lost carrier (the
	// kernel says so at once; BFD would take its detection time).
	noCarrier bool
}

// NewLiveness returns a tracker with the given hold-down.
func NewLiveness(holdDown time.Duration) *Liveness {
	return &Liveness{holdDown: holdDown, tunnels: map[string]*tunnelLive{}}
}

// Set records a tunnel's raw state (from BFD, or BGP where BFD is off) and
// reports whether it changed.
func (l *Liveness) Set(name string, up bool, at time.Time) bool {
	t := l.tunnels[name]
	if t == nil {
		t = &tunnelLive{}
		l.tunnels[name] = t
	} else {
		t.peerAdminDown = false
		if t.up == up {
			return false
		}
	}
	if t.up && !up {
		t.wasDown = true
	}
	t.up, t.since = up, at
	return true
}

// ObserveBFD records a state change of a tunnel's BFD session and reports
// whether it took a live tunnel out: a failure to time until the FIB drops
// it.
//
// A session the peer took down on purpose (it sent AdminDown: its operator,
// or FRR's bgpd deleting or re-registering the session) says nothing about
// the path, so a tunnel that was up keeps its place (RFC 5882 §3.2) and is
// marked peer administratively down. The other signals still judge it: BGP
// (paths come only from established sessions, within its hold time) and
// the WireGuard handshake age. BFD ends the grace by coming Up again or by
// detecting a failure: the peer coming back takes the session Down → Init
// → Up, and Init keeps the grace, but Init → Down on the detection time is
// a failure. Silence after the AdminDown ends nothing, and BFD, being
// Down, reports none: FRR sends one AdminDown packet and stops (RFC 5880
// §6.8.16 asks for no more), so silence is what a shut-down peer looks
// like. Our own AdminDown (the session removed) is no grace: the tunnel
// leaves, as before.
func (l *Liveness) ObserveBFD(name string, ch bfd.Change) (failed bool) {
	wasAlive := l.Alive(name, ch.At)
	t := l.tunnels[name]
	switch {
	case ch.New == bfd.StateUp:
		l.Set(name, true, ch.At)
	case t != nil && t.peerAdminDown && ch.New == bfd.StateInit:
		// The peer is back and the session on its way Up.
	case t != nil && t.up && ch.New == bfd.StateDown && ch.RemoteState == bfd.StateAdminDown:
		t.peerAdminDown = true
	default:
		l.Set(name, false, ch.At)
	}
	return wasAlive && !l.Alive(name, ch.At)
}

// ObserveCarrier records the carrier link under a tunnel going down or up
// and reports whether that changed anything, and whether it took a live
// tunnel out. Lost carrier is certain
// at once, where BFD would wait its detection time. Carrier back brings the
// tunnel back only if its liveness source still says up (a flap shorter
// than BFD's detection time), and then after the hold-down like any flap;
// otherwise BFD coming Up does.
func (l *Liveness) ObserveCarrier(name string, up bool, at time.Time) (changed, failed bool) {
	t := l.tunnels[name]
	if t == nil || t.noCarrier == !up {
		return false, false
	}
	wasAlive := l.Alive(name, at)
	t.noCarrier = !up
	if up && t.up {
		t.since, t.wasDown = at, true
	}
	return true, wasAlive && !l.Alive(name, at)
}

// PeerAdminDown reports whether a tunnel is kept although its BFD session
// is down, because the peer took the session down on purpose.
func (l *Liveness) PeerAdminDown(name string) bool {
	t := l.tunnels[name]
	return t != nil && t.peerAdminDown
}

// Forget drops a tunnel that is no longer configured.
func (l *Liveness) Forget(name string) { delete(l.tunnels, name) }

// Alive reports whether a tunnel may be in the next-hop set at now.
func (l *Liveness) Alive(name string, now time.Time) bool {
	t := l.tunnels[name]
	if t == nil || !t.up || t.noCarrier {
		return false
	}
	return !t.wasDown || now.Sub(t.since) >= l.holdDown
}

// Held reports whether a tunnel is up but still in hold-down, and until when.
func (l *Liveness) Held(name string, now time.Time) (bool, time.Time) {
	t := l.tunnels[name]
	if t == nil || !t.up || !t.wasDown || t.noCarrier {
		return false, time.Time{}
	}
	until := t.since.Add(l.holdDown)
	return now.Before(until), until
}

// NextExpiry is the earliest end of a running hold-down after now, or the
// zero time: the reconciler wakes then to let the tunnel back in.
func (l *Liveness) NextExpiry(now time.Time) time.Time {
	var next time.Time
	for name := range l.tunnels {
		if held, until := l.Held(name, now); held && (next.IsZero() || until.Before(next)) {
			next = until
		}
	}
	return next
}

// Down reports whether a tunnel's liveness source, or its carrier, says it
// is down now.
func (l *Liveness) Down(name string) bool {
	t := l.tunnels[name]
	return t != nil && (!t.up || t.noCarrier)
}
