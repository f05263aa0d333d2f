package ecmp

import "time"

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
	} else if t.up == up {
		return false
	}
	if t.up && !up {
		t.wasDown = true
	}
	t.up, t.since = up, at
	return true
}

// Forget drops a tunnel that is no longer configured.
func (l *Liveness) Forget(name string) { delete(l.tunnels, name) }

// Alive reports whether a tunnel may be in the next-hop set at now.
func (l *Liveness) Alive(name string, now time.Time) bool {
	t := l.tunnels[name]
	if t == nil || !t.up {
		return false
	}
	return !t.wasDown || now.Sub(t.since) >= l.holdDown
}

// Held reports whether a tunnel is up but still in hold-down, and until when.
func (l *Liveness) Held(name string, now time.Time) (bool, time.Time) {
	t := l.tunnels[name]
	if t == nil || !t.up || !t.wasDown {
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

// Down reports whether a tunnel's liveness source says it is down now.
func (l *Liveness) Down(name string) bool {
	t := l.tunnels[name]
	return t != nil && !t.up
}
