package bfd

import (
	"slices"
	"testing"
	"time"
)

// TestSleepUntilPrecise: waiting out a deadline in nanosleep ends well
// within a millisecond of it; the runtime's own timer, the figure logged
// for comparison, ends 0-1 ms late (its netpoller sleeps in milliseconds).
func TestSleepUntilPrecise(t *testing.T) {
	const n = 25
	var slept, timer []time.Duration
	for i := range n {
		d := 3*time.Millisecond + time.Duration(i*37)*time.Microsecond
		deadline := time.Now().Add(d)
		sleepUntil(deadline)
		slept = append(slept, time.Since(deadline))
		deadline = time.Now().Add(d)
		<-time.After(d)
		timer = append(timer, time.Since(deadline))
	}
	slices.Sort(slept)
	slices.Sort(timer)
	t.Logf("late: nanosleep p50 %v max %v; runtime timer p50 %v max %v", slept[n/2], slept[n-1], timer[n/2], timer[n-1])
	if slept[0] < 0 {
		t.Errorf("sleepUntil returned %v before its deadline", -slept[0])
	}
	if slept[n/2] > 400*time.Microsecond {
		t.Errorf("sleepUntil ended p50 %v after its deadline, want well under a millisecond", slept[n/2])
	}
}
