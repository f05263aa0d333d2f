package sla

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

var th = Thresholds{MaxRTT: 200 * time.Millisecond, MaxJitter: 50 * time.Millisecond, MaxLoss: 10,
	Window: 5 * time.Second, Breach: 3 * time.Second, Recover: 10 * time.Second}

// feed adds a probe every 200 ms for d from start, rtt(i) or lost, and
// returns the time of the first change and the time after the last probe.
func feed(j *Judge, start time.Time, d time.Duration, sample func(i int) (time.Duration, bool)) (changed time.Time, end time.Time) {
	at := start
	for i := 0; at.Sub(start) < d; i++ {
		rtt, lost := sample(i)
		if j.Add(Sample{At: at, RTT: rtt, Lost: lost}) && changed.IsZero() {
			changed = at
		}
		at = at.Add(200 * time.Millisecond)
	}
	return changed, at
}

func steady(rtt time.Duration) func(int) (time.Duration, bool) {
	return func(int) (time.Duration, bool) { return rtt, false }
}

func TestJudgeVerdicts(t *testing.T) {
	tests := []struct {
		name     string
		bad      func(int) (time.Duration, bool)
		degraded bool
		reason   string
	}{
		{"healthy", steady(30 * time.Millisecond), false, ""},
		{"300 ms extra delay", steady(330 * time.Millisecond), true, "rtt 330 ms > 200 ms"},
		{"25 % loss", func(i int) (time.Duration, bool) { return 30 * time.Millisecond, i%4 == 0 }, true, "loss 2"},
		{"5 % loss is under the limit", func(i int) (time.Duration, bool) { return 30 * time.Millisecond, i%20 == 0 }, false, ""},
		{"jitter", func(i int) (time.Duration, bool) { return time.Duration(20+100*(i%2)) * time.Millisecond, false }, true, "jitter 100 ms > 50 ms"},
		{"dead: loss only, no rtt judged", func(int) (time.Duration, bool) { return 0, true }, true, "loss 100 % > 10 %"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJudge(th)
			_, end := feed(j, t0, 10*time.Second, steady(30*time.Millisecond))
			changed, _ := feed(j, end, 20*time.Second, tt.bad)
			v := j.Verdict()
			if v.Degraded != tt.degraded {
				t.Fatalf("degraded %v, want %v (quality %+v, reason %q)", v.Degraded, tt.degraded, j.Quality(), v.Reason)
			}
			if !tt.degraded {
				return
			}
			if !strings.HasPrefix(v.Reason, tt.reason) || !strings.Contains(v.Reason, " for ") {
				t.Errorf("reason %q, want it to start %q and say for how long", v.Reason, tt.reason)
			}
			// Out after the window shows it and the breach lasted 3 s: never
			// before Breach, and within Breach + Window.
			if took := changed.Sub(end); took < th.Breach || took > th.Breach+th.Window {
				t.Errorf("degraded %v after the fault, want between %v and %v", took, th.Breach, th.Breach+th.Window)
			}
		})
	}
}

// TestJudgeHysteresis: a degraded tunnel returns only after it has met the
// thresholds for Recover, and a short good spell does not bring it back.
func TestJudgeHysteresis(t *testing.T) {
	j := NewJudge(th)
	_, end := feed(j, t0, 10*time.Second, steady(400*time.Millisecond))
	if !j.Verdict().Degraded {
		t.Fatal("not degraded after 10 s at 400 ms")
	}
	// Good for 6 s, bad again for 4 s (enough to lift the window's mean
	// over the limit): still degraded throughout.
	changed, end := feed(j, end, 6*time.Second, steady(30*time.Millisecond))
	if !changed.IsZero() {
		t.Fatalf("returned at %v after 6 s of good probes, want ≥ %v", changed.Sub(end.Add(-6*time.Second)), th.Recover)
	}
	_, end = feed(j, end, 4*time.Second, steady(400*time.Millisecond))
	good := end
	changed, _ = feed(j, end, 30*time.Second, steady(30*time.Millisecond))
	if j.Verdict().Degraded {
		t.Fatal("still degraded after 30 s of good probes")
	}
	// The window must first clear of the bad probes, then Recover pass.
	if took := changed.Sub(good); took < th.Recover || took > th.Recover+th.Window+time.Second {
		t.Errorf("returned %v after the probes turned good, want between %v and %v", took, th.Recover, th.Recover+th.Window)
	}
	if j.Verdict().Reason == "" {
		t.Error("a returned tunnel forgot why it was out")
	}
}

// TestJudgeResetAndFewSamples: too few probes are not judged, and a reset
// (the tunnel went down) forgets the verdict.
func TestJudgeResetAndFewSamples(t *testing.T) {
	j := NewJudge(th)
	for i := range minSamples - 1 {
		j.Add(Sample{At: t0.Add(time.Duration(i) * time.Second), Lost: true})
	}
	if j.Verdict().Degraded {
		t.Fatal("degraded on fewer than minSamples probes")
	}
	feed(j, t0.Add(10*time.Second), 10*time.Second, func(int) (time.Duration, bool) { return 0, true })
	if !j.Verdict().Degraded {
		t.Fatal("not degraded after 10 s of lost probes")
	}
	j.Reset(t0.Add(time.Minute))
	if v := j.Verdict(); v.Degraded || j.Quality().Samples != 0 {
		t.Errorf("after a reset: %+v with %d samples", v, j.Quality().Samples)
	}
}

func TestThresholdsJudged(t *testing.T) {
	if (Thresholds{Window: time.Second}).Judged() {
		t.Error("no limits judged")
	}
	if !(Thresholds{MaxLoss: 1}).Judged() {
		t.Error("a loss limit not judged")
	}
}
