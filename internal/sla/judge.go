package sla

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Thresholds are what a tunnel must meet; a zero limit is not judged.
type Thresholds struct {
	MaxRTT    time.Duration
	MaxJitter time.Duration
	MaxLoss   float64       // percent of probes unanswered
	Window    time.Duration // the figures are computed over this much
	Breach    time.Duration // how long a breach lasts before the tunnel is degraded
	Recover   time.Duration // how long it meets them all before it returns
	// MinGoodput is what the tunnel must carry when it is loaded, in
	// bits a second (0: not judged). Loaded means its probes come back
	// LoadDelay slower than its baseline while it carries at least 3 % of
	// MinGoodput (loadShare), or are lost while it carries 1 % and more
	// than its liveness alone (lostShare, liveFloor): a queue in front of
	// the carrier's bottleneck.
	MinGoodput float64
	LoadDelay  time.Duration
}

// Judged says whether any limit is set.
func (t Thresholds) Judged() bool {
	return t.MaxRTT > 0 || t.MaxJitter > 0 || t.MaxLoss > 0 || t.MinGoodput > 0
}

// Sample is one probe: its round-trip time, or lost, and what the tunnel
// carried in the interval before it was sent.
type Sample struct {
	At   time.Time
	RTT  time.Duration
	Lost bool
	// Rate is the busier direction's bits a second through the tunnel over
	// the probe interval before it (0: not known).
	Rate float64

	loaded bool // set by the judge when it arrives
}

// Quality is a window's figures.
type Quality struct {
	Samples int
	RTT     time.Duration // mean of the answered probes
	Jitter  time.Duration // mean difference of consecutive answered probes' RTT (RFC 3550's idea)
	Loss    float64       // percent
	// Rate is the busier direction's bits a second in the latest probe
	// interval; Goodput the median over the Loaded probes' intervals (0 when
	// none): what the tunnel manages when it is full.
	Rate     float64
	Goodput  float64
	Loaded   int
	Baseline time.Duration // the quietest round trip of the last minutes
}

// minSamples is how many probes a window needs before it is judged: one
// lost echo in two is not 50 % loss.
const minSamples = 5

// Verdict is a tunnel's state.
type Verdict struct {
	Degraded bool
	Since    time.Time // of the latest change
	Reason   string    // why it is degraded, or was last: "loss 23 % > 10 % for 12 s"
}

// Judge keeps one tunnel's window and verdict. Not safe for concurrent use.
type Judge struct {
	th          Thresholds
	samples     []Sample
	breachSince time.Time // zero: meeting the thresholds
	goodSince   time.Time // zero: breaching
	verdict     Verdict
	floor       baseline
}

// NewJudge returns a judge of th.
func NewJudge(th Thresholds) *Judge { return &Judge{th: th} }

// Reset forgets the window and the verdict (a tunnel that went down).
func (j *Judge) Reset(now time.Time) {
	changed := j.verdict.Degraded
	j.samples, j.breachSince, j.goodSince = j.samples[:0], time.Time{}, time.Time{}
	j.floor = baseline{}
	if changed {
		j.verdict = Verdict{Since: now}
	}
}

// Add records a probe and reports whether the verdict changed.
func (j *Judge) Add(s Sample) bool {
	s.loaded = j.loaded(s)
	if !s.Lost {
		j.floor.add(s.At, s.RTT)
	}
	j.samples = append(j.samples, s)
	j.prune(s.At)
	q := j.Quality()
	breach := ""
	if q.Samples >= minSamples {
		breach = j.breach(q)
	}
	if breach == "" {
		j.breachSince = time.Time{}
		if !j.verdict.Degraded {
			return false
		}
		if j.goodSince.IsZero() {
			j.goodSince = s.At
		}
		if s.At.Sub(j.goodSince) < j.th.Recover {
			return false
		}
		j.verdict = Verdict{Since: s.At, Reason: j.verdict.Reason}
		return true
	}
	j.goodSince = time.Time{}
	if j.breachSince.IsZero() {
		j.breachSince = s.At
	}
	lasted := s.At.Sub(j.breachSince)
	if lasted < j.th.Breach {
		return false
	}
	// The reason follows the figures while it lasts.
	j.verdict.Reason = fmt.Sprintf("%s for %s", breach, roundSeconds(lasted))
	if j.verdict.Degraded {
		return false
	}
	j.verdict.Degraded, j.verdict.Since = true, s.At
	return true
}

// prune drops samples older than the window.
func (j *Judge) prune(now time.Time) {
	keep := 0
	for keep < len(j.samples) && now.Sub(j.samples[keep].At) > j.th.Window {
		keep++
	}
	j.samples = append(j.samples[:0], j.samples[keep:]...)
}

// Quality is the window's figures.
func (j *Judge) Quality() Quality {
	q := Quality{Samples: len(j.samples)}
	var sum, jit time.Duration
	answered, pairs := 0, 0
	var prev time.Duration
	for _, s := range j.samples {
		if s.Lost {
			continue
		}
		if answered > 0 {
			jit += (s.RTT - prev).Abs()
			pairs++
		}
		sum, prev = sum+s.RTT, s.RTT
		answered++
	}
	if answered > 0 {
		q.RTT = sum / time.Duration(answered)
	}
	if pairs > 0 {
		q.Jitter = jit / time.Duration(pairs)
	}
	if q.Samples > 0 {
		q.Loss = 100 * float64(q.Samples-answered) / float64(q.Samples)
		q.Rate = j.samples[q.Samples-1].Rate
	}
	q.Goodput, q.Loaded = j.goodput()
	q.Baseline, _ = j.floor.min()
	return q
}

// breach names every threshold q breaks, "" when none.
func (j *Judge) breach(q Quality) string {
	var out []string
	if j.th.MaxLoss > 0 && q.Loss > j.th.MaxLoss {
		out = append(out, fmt.Sprintf("loss %s %% > %s %%", percent(q.Loss), percent(j.th.MaxLoss)))
	}
	answered := q.Loss < 100
	if j.th.MaxRTT > 0 && answered && q.RTT > j.th.MaxRTT {
		out = append(out, fmt.Sprintf("rtt %d ms > %d ms", q.RTT.Milliseconds(), j.th.MaxRTT.Milliseconds()))
	}
	if j.th.MaxJitter > 0 && answered && q.Jitter > j.th.MaxJitter {
		out = append(out, fmt.Sprintf("jitter %d ms > %d ms", q.Jitter.Milliseconds(), j.th.MaxJitter.Milliseconds()))
	}
	if j.th.MinGoodput > 0 && j.loadJudged(q) && q.Goodput < j.th.MinGoodput {
		out = append(out, fmt.Sprintf("goodput %s < %s under load", kbits(q.Goodput), kbits(j.th.MinGoodput)))
	}
	return strings.Join(out, ", ")
}

// Verdict is the tunnel's state.
func (j *Judge) Verdict() Verdict { return j.verdict }

func percent(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func roundSeconds(d time.Duration) string {
	return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
}

func kbits(bps float64) string { return fmt.Sprintf("%.0f kbit/s", bps/1000) }
