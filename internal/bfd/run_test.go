package bfd

import (
	"testing"
	"time"
)

// TestDetectionLate: a detection time that expires reports how long after
// it the session's timer fired, so that a failover's log can tell a late
// wake-up from the detection time itself.
func TestDetectionLate(t *testing.T) {
	n := newSimNet(t)
	a, _ := n.addSession(0, 1), n.addSession(1, 1)
	n.run(n.at(5 * time.Second))
	n.blackhole()
	// Everything due before the detection time, then the timer 7 ms late.
	n.run(n.at(5*time.Second + 50*time.Millisecond))
	detect := a.st.detectAt
	if detect.IsZero() {
		t.Fatal("no detection time running after 5 s Up")
	}
	n.run(detect.Add(-time.Microsecond))
	simSession{a}.fire(detect.Add(7 * time.Millisecond))
	got := n.changes[0][len(n.changes[0])-1]
	if got.New != StateDown || got.Diag != DiagControlExpired || got.Late != 7*time.Millisecond {
		t.Errorf("last change %v → %v (%v), late %v; want Down, %v, late 7ms", got.Old, got.New, got.Diag, got.Late, DiagControlExpired)
	}
	if a.st.state != StateDown {
		t.Errorf("state %v after the detection time, want Down", a.st.state)
	}
}
