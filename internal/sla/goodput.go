package sla

import (
	"slices"
	"time"
)

// Goodput is judged only while a tunnel is full: a carrier's capacity
// shows only when something fills it, and a throttled carrier (128 kbit/s
// after a quota) answers every probe of an idle tunnel in time. Full is
// seen the way a bufferbloat meter sees it: the probes of an interval in
// which the tunnel carried traffic come back later than the tunnel's
// quietest round trip by LoadDelay (a queue stands in front of the
// bottleneck), or are lost (the queue overflowed). What it carried then
// is its goodput. A lossy carrier that is not full loses probes too, but
// it needs more than half of them lost, while carrying traffic, to be
// judged by its goodput (and its loss limit judges it anyway).

// loadShare is the least a loaded interval must carry, as a share of
// MinGoodput: a tunnel carrying less is all but idle (liveness alone is a
// few kbit/s), and a slow probe there is the carrier's jitter, not a queue
// of ours. It is low because TCP behind a throttle carries far less than
// the throttle's rate: flows paced at 2 Mbit/s into 128 kbit/s with a
// 300 ms queue lose most packets and back off, and the lab measured such
// a tunnel at 50 kbit/s; a tenth (100 kbit/s at the default) left it
// unjudged.
const loadShare = 0.03

// A lost probe needs less: TCP stalled behind a throttle (its flows in
// retransmission backoff, one packet a flow every second or two) carries
// 10 to 30 kbit/s while its probes are lost to the overflowing queue, and
// more than half of a window lost is no carrier that reaches MinGoodput
// either. lostShare of MinGoodput, but never less than liveFloor: an idle
// tunnel on a lossy carrier, carrying only BFD and these probes (up to
// 5 kbit/s at 100 ms BFD and 200 ms probes), is judged by its loss
// limit, not taken for a full one.
const (
	lostShare = 0.01
	liveFloor = 8e3
)

// minLoaded is how many loaded probes a window needs, and at least half of
// its probes must be: one slow probe during a download is no verdict.
const minLoaded = 3

// loaded says whether s was sent into a queue the tunnel's own traffic
// built: it came back LoadDelay late, or not at all (the queue was full:
// a shallow buffer drops rather than delays, and a policer has none).
func (j *Judge) loaded(s Sample) bool {
	if j.th.MinGoodput <= 0 {
		return false
	}
	if s.Lost {
		return s.Rate >= max(lostShare*j.th.MinGoodput, liveFloor)
	}
	if s.Rate < loadShare*j.th.MinGoodput {
		return false
	}
	floor, ok := j.floor.min()
	return ok && s.RTT >= floor+j.th.LoadDelay
}

// goodput is the median rate over the window's loaded probes, and how
// many there are: the median, as the intervals just after a throttle
// began still carry the backlog sent before it.
func (j *Judge) goodput() (float64, int) {
	var rates []float64
	for _, s := range j.samples {
		if s.loaded {
			rates = append(rates, s.Rate)
		}
	}
	if len(rates) == 0 {
		return 0, 0
	}
	slices.Sort(rates)
	n := len(rates)
	if n%2 == 1 {
		return rates[n/2], n
	}
	return (rates[n/2-1] + rates[n/2]) / 2, n
}

// loadJudged says whether the window saw the tunnel full long enough to
// judge its goodput.
func (j *Judge) loadJudged(q Quality) bool {
	return q.Loaded >= minLoaded && 2*q.Loaded >= q.Samples
}

// baseline keeps the quietest round trip of the last baselineSpan, in
// buckets, so that an old minimum ages out (the carrier moved the home to
// a farther cell) while a standing queue of a few minutes does not become
// the baseline.
type baseline struct {
	buckets [baselineBuckets]bucket
}

type bucket struct {
	start time.Time
	min   time.Duration
}

const (
	baselineBuckets = 10
	baselineSpan    = 5 * time.Minute
	bucketSpan      = baselineSpan / baselineBuckets
)

func (b *baseline) add(at time.Time, rtt time.Duration) {
	start := at.Truncate(bucketSpan)
	i := int(start.UnixNano()/int64(bucketSpan)) % baselineBuckets
	if c := &b.buckets[i]; !c.start.Equal(start) {
		*c = bucket{start: start, min: rtt}
	} else {
		c.min = min(c.min, rtt)
	}
	b.latest(start)
}

// latest forgets buckets older than the span before start.
func (b *baseline) latest(start time.Time) {
	for i := range b.buckets {
		if c := &b.buckets[i]; !c.start.IsZero() && start.Sub(c.start) >= baselineSpan {
			*c = bucket{}
		}
	}
}

// min is the quietest round trip kept, false before any.
func (b *baseline) min() (time.Duration, bool) {
	var out time.Duration
	ok := false
	for _, c := range b.buckets {
		if !c.start.IsZero() && (!ok || c.min < out) {
			out, ok = c.min, true
		}
	}
	return out, ok
}
