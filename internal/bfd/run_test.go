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

// TestDetectionWaitedOutPrecisely: while packets come, the loop's runtime
// timer serves the next transmission; once the detection deadline is the
// earliest, the timer fires detectMargin before it and the loop waits the
// rest itself (sleepUntil), so that the runtime's millisecond timer
// resolution is not added to the detection time.
func TestDetectionWaitedOutPrecisely(t *testing.T) {
	n := newSimNet(t)
	a, _ := n.addSession(0, 1), n.addSession(1, 1)
	n.run(n.at(5 * time.Second))
	if timer, precise := a.nextWake(); !precise.IsZero() || !timer.Equal(a.st.nextTx) {
		t.Errorf("Up, packets coming: wake at %v, precise %v; want the next transmission %v, none", timer, precise, a.st.nextTx)
	}
	detect := a.st.detectAt
	a.st.nextTx = detect.Add(50 * time.Millisecond) // the detection time is now the earliest deadline
	if timer, precise := a.nextWake(); !precise.Equal(detect) || !timer.Equal(detect.Add(-detectMargin)) {
		t.Errorf("detection next: wake at %v, precise %v; want %v before %v", n.since(timer), n.since(precise), detectMargin, n.since(detect))
	}
}

// TestCatchUpBeforeExpiry: a packet that arrived before the detection
// deadline while the loop slept is handled before the deadline is judged,
// and keeps the session up.
func TestCatchUpBeforeExpiry(t *testing.T) {
	n := newSimNet(t)
	a, b := n.addSession(0, 1), n.addSession(1, 1)
	n.run(n.at(5 * time.Second))
	detect := a.st.detectAt
	a.rx <- rxPacket{p: b.packet(false), at: detect.Add(-100 * time.Microsecond)}
	a.catchUp()
	simSession{a}.fire(detect.Add(100 * time.Microsecond))
	if a.st.state != StateUp {
		t.Errorf("state %v after a packet that arrived before the deadline, want Up", a.st.state)
	}
}
