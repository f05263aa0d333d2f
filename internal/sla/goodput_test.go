package sla

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var gth = Thresholds{MinGoodput: 1e6, LoadDelay: 50 * time.Millisecond,
	Window: 5 * time.Second, Breach: 3 * time.Second, Recover: 10 * time.Second}

// loadFeed adds a probe every 200 ms for d from start: rtt (< 0: lost)
// and the rate of the interval before it.
func loadFeed(j *Judge, start time.Time, d time.Duration, rtt time.Duration, rate func(i int) float64) (changed, end time.Time) {
	at := start
	for i := 0; at.Sub(start) < d; i++ {
		if j.Add(Sample{At: at, RTT: max(rtt, 0), Lost: rtt < 0, Rate: rate(i)}) && changed.IsZero() {
			changed = at
		}
		at = at.Add(200 * time.Millisecond)
	}
	return changed, at
}

func constRate(r float64) func(int) float64 { return func(int) float64 { return r } }

// TestGoodputUnderLoad: a tunnel whose probes queue behind its own traffic
// is judged by what it carries; an idle one with slow probes, a fast one
// under load, and one loaded now and then are not.
func TestGoodputUnderLoad(t *testing.T) {
	tests := []struct {
		name     string
		rtt      time.Duration
		rate     func(int) float64
		degraded bool
	}{
		{"throttled to 128 kbit/s, full", 180 * time.Millisecond, constRate(128e3), true},
		{"a fast tunnel, full", 120 * time.Millisecond, constRate(40e6), false},
		{"idle, slow probes (jitter, BFD alone)", 180 * time.Millisecond, constRate(20e3), false},
		{"throttled but no queue (probes in time)", 40 * time.Millisecond, constRate(128e3), false},
		{"throttled, the queue full: every probe lost", -1, constRate(128e3), true},
		// What the lab's throttle does to TCP: most packets lost, the flows
		// in backoff, far below the throttle's own rate.
		{"throttled, TCP backing off: 50 kbit/s, probes lost", -1, constRate(50e3), true},
		{"throttled, TCP stalled in backoff: 15 kbit/s, probes lost", -1, constRate(15e3), true},
		{"idle on a lossy carrier: liveness alone, 5 kbit/s, probes lost", -1, constRate(5e3), false},
		{"little traffic, slow probes (jitter): 15 kbit/s", 180 * time.Millisecond, constRate(15e3), false},
		{"full one probe in four", 180 * time.Millisecond, func(i int) float64 {
			if i%4 == 0 {
				return 128e3
			}
			return 0
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJudge(gth)
			_, end := loadFeed(j, t0, 10*time.Second, 30*time.Millisecond, constRate(0))
			changed, _ := loadFeed(j, end, 20*time.Second, tt.rtt, tt.rate)
			v, q := j.Verdict(), j.Quality()
			if v.Degraded != tt.degraded {
				t.Fatalf("degraded %v, want %v (quality %+v, reason %q)", v.Degraded, tt.degraded, q, v.Reason)
			}
			if q.Baseline != 30*time.Millisecond {
				t.Errorf("baseline %v, want the quiet 30 ms", q.Baseline)
			}
			if !tt.degraded {
				return
			}
			if want := fmt.Sprintf("goodput %.0f kbit/s < 1000 kbit/s under load for ", tt.rate(0)/1e3); !strings.HasPrefix(v.Reason, want) {
				t.Errorf("reason %q, want it to start %q", v.Reason, want)
			}
			if took := changed.Sub(end); took < gth.Breach || took > gth.Breach+gth.Window {
				t.Errorf("degraded %v after the load began, want between %v and %v", took, gth.Breach, gth.Breach+gth.Window)
			}
		})
	}
}

// TestGoodputOutAndBack: out of ECMP, a throttled tunnel carries nothing,
// so it is not full, and returns after Recover; full and slow again, it
// leaves again.
func TestGoodputOutAndBack(t *testing.T) {
	j := NewJudge(gth)
	_, end := loadFeed(j, t0, 10*time.Second, 30*time.Millisecond, constRate(0))
	_, end = loadFeed(j, end, 10*time.Second, 200*time.Millisecond, constRate(120e3))
	if !j.Verdict().Degraded {
		t.Fatal("not degraded")
	}
	back, end := loadFeed(j, end, 30*time.Second, 30*time.Millisecond, constRate(2e3))
	if j.Verdict().Degraded || back.IsZero() {
		t.Fatalf("still degraded after 30 s idle: %+v", j.Verdict())
	}
	if took := back.Sub(end.Add(-30 * time.Second)); took < gth.Recover {
		t.Errorf("back %v after the load ended, want ≥ %v", took, gth.Recover)
	}
	if out, _ := loadFeed(j, end, 10*time.Second, 200*time.Millisecond, constRate(120e3)); out.IsZero() {
		t.Error("not degraded again when full and slow again")
	}
}

// TestBaselineAges: the quietest round trip of the last five minutes is
// the baseline; an older one ages out (the carrier moved the home to a
// farther cell), a standing queue of a minute does not become it.
func TestBaselineAges(t *testing.T) {
	var b baseline
	if _, ok := b.min(); ok {
		t.Fatal("a baseline before any probe")
	}
	b.add(t0, 30*time.Millisecond)
	for i := range 60 {
		b.add(t0.Add(time.Duration(i)*time.Second), 300*time.Millisecond)
	}
	if m, _ := b.min(); m != 30*time.Millisecond {
		t.Errorf("baseline %v a minute into a queue, want 30 ms", m)
	}
	for i := range 400 {
		b.add(t0.Add(time.Minute+time.Duration(i)*time.Second), 80*time.Millisecond)
	}
	if m, _ := b.min(); m != 80*time.Millisecond {
		t.Errorf("baseline %v after 6 minutes at 80 ms, want 80 ms", m)
	}
}
