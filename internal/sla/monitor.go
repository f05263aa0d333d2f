package sla

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uplinkd/uplinkd/internal/probe"
	"github.com/uplinkd/uplinkd/internal/units"
)

// ErrSkip is a Pinger's answer to Send when it cannot probe now and the
// tunnel is not to be counted lost for it (a probe that only measures,
// where measuring costs too much now).
var ErrSkip = errors.New("sla: no probe now")

// Target is one tunnel to judge: its probe goes to Addr (the far end's
// tunnel address) every Interval. With no limit in Thresholds it is only
// measured, for status and metrics.
type Target struct {
	Link       string // the ecmp link name ("docomo", "docomo@hub2")
	Interface  string // its tunnel interface, whose counters give its rate
	Addr       netip.Addr
	Interval   time.Duration
	Thresholds Thresholds
}

// LinkStatus is one tunnel's figures over the window and its verdict, as
// status shows them.
type LinkStatus struct {
	Link    string     `json:"link"`
	Target  netip.Addr `json:"target"`  // what its probes ping
	Judging bool       `json:"judging"` // false while the tunnel is down: nothing is judged
	// Limits: a limit applies; false: only measured (status, metrics).
	Limits      bool    `json:"limits"`
	Samples     int     `json:"samples"`
	RTTMs       float64 `json:"rtt_ms"`
	JitterMs    float64 `json:"jitter_ms"`
	LossPercent float64 `json:"loss_percent"`
	// RateKbps is what the tunnel carried in the latest probe interval
	// (the busier direction); GoodputKbps the median of the intervals it was
	// loaded in (0: not loaded in the window), LoadedSamples how many.
	RateKbps      float64 `json:"rate_kbps"`
	GoodputKbps   float64 `json:"goodput_kbps"`
	LoadedSamples int     `json:"loaded_samples"`
	// BaselineRTTMs is the quietest round trip of the last 5 minutes,
	// against which a loaded probe is told.
	BaselineRTTMs float64 `json:"baseline_rtt_ms"`
	// Probe is how the latest round trip was measured: "bfd" (the BFD
	// session's timestamps, no packet of their own) or "icmp" (echo).
	Probe    string    `json:"probe,omitempty"`
	Degraded bool      `json:"degraded"`
	Since    time.Time `json:"since,omitzero"`   // of the latest change of Degraded
	Reason   string    `json:"reason,omitempty"` // why it is, or last was, degraded
}

// Monitor runs a probe loop per target and tells onChange the verdicts
// (by link) whenever one changes.
type Monitor struct {
	open     func(netip.Addr, string) (Pinger, error)
	traffic  Traffic
	alive    func(link string) bool
	onChange func(map[string]Verdict)
	log      *slog.Logger

	// staleAfter: a tunnel down longer than this is judged afresh when it
	// comes back (staleVerdict; tests shorten it).
	staleAfter time.Duration

	mu    sync.Mutex
	loops map[string]*loop
}

// staleVerdict is how long a tunnel must have been down for its window and
// verdict to be forgotten: long against a flap (BFD out, the hold-down,
// back: a lossy carrier does that every few seconds and must keep its
// figures), short against the outages after which a carrier is a
// different link.
const staleVerdict = time.Minute

type loop struct {
	target Target
	cancel context.CancelFunc
	done   chan struct{}
	judge  *Judge
	judged bool
	via    string // how the latest reply was measured
}

// Traffic reads a tunnel interface's byte counters (received, sent).
type Traffic func(iface string) (rx, tx uint64, err error)

// NewMonitor returns a monitor; open makes a pinger (probe.NewICMPPipe),
// traffic reads a tunnel's counters (nil: goodput is not measured), alive
// says whether a tunnel is up (only live ones are judged).
func NewMonitor(open func(netip.Addr, string) (Pinger, error), traffic Traffic, alive func(string) bool,
	onChange func(map[string]Verdict), log *slog.Logger) *Monitor {
	return &Monitor{open: open, traffic: traffic, alive: alive, onChange: onChange, log: log,
		loops: map[string]*loop{}, staleAfter: staleVerdict}
}

// Set makes the loops match targets: new ones start, gone or changed
// ones stop (a changed one starts afresh).
func (m *Monitor) Set(targets []Target) {
	m.mu.Lock()
	want := map[string]Target{}
	for _, t := range targets {
		want[t.Link] = t
	}
	var stop []*loop
	for name, l := range m.loops {
		if t, ok := want[name]; !ok || t != l.target {
			stop = append(stop, l)
			delete(m.loops, name)
		}
	}
	for name, t := range want {
		if _, ok := m.loops[name]; !ok {
			m.loops[name] = m.start(t)
		}
	}
	m.mu.Unlock()
	for _, l := range stop {
		l.cancel()
		<-l.done
	}
	if len(stop) > 0 {
		m.notify()
	}
}

func (m *Monitor) start(t Target) *loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{target: t, cancel: cancel, done: make(chan struct{}), judge: NewJudge(t.Thresholds)}
	go m.run(ctx, l)
	return l
}

// probeTimeout is how long a probe may wait for its reply: long enough to
// measure a round trip well past any RTT limit, not counting it lost.
func probeTimeout(t Target) time.Duration { return max(time.Second, 3*t.Thresholds.MaxRTT) }

// Pinger sends echo requests without waiting and reports their replies
// (probe.Pipe).
type Pinger interface {
	Send() (seq int, err error)
	Replies() <-chan probe.Reply
	Close() error
}

// run sends a probe every interval while the tunnel is alive, whatever
// became of the ones before: a reply is a sample of its round trip, a
// probe unanswered after probeTimeout a lost one.
func (m *Monitor) run(ctx context.Context, l *loop) {
	defer close(l.done)
	p, err := m.open(l.target.Addr, l.target.Interface)
	if err != nil {
		m.log.Warn("sla probe not started", "link", l.target.Link, "target", l.target.Addr, "err", err)
		return
	}
	defer p.Close()
	tick := time.NewTicker(l.target.Interval)
	defer tick.Stop()
	timeout := probeTimeout(l.target)
	sent := map[int]probeSent{}
	rate := m.rateMeter(l.target.Interface)
	var downSince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case r, ok := <-p.Replies():
			if !ok {
				return
			}
			if p, mine := sent[r.Seq]; mine {
				delete(sent, r.Seq)
				rtt := r.At.Sub(p.at)
				if r.RTT > 0 {
					rtt = r.RTT
				}
				m.mu.Lock()
				l.via = r.Via
				m.mu.Unlock()
				m.record(l, Sample{At: r.At, RTT: rtt, Rate: p.rate})
			}
		case now := <-tick.C:
			for seq, p := range sent {
				if now.Sub(p.at) > timeout {
					delete(sent, seq)
					m.record(l, Sample{At: now, Lost: true, Rate: p.rate})
				}
			}
			r := rate(now)
			if !m.alive(l.target.Link) {
				if downSince.IsZero() {
					downSince = now
				}
				clear(sent) // lost to the outage BFD already reported
				m.pause(l)
				continue
			}
			if !downSince.IsZero() && now.Sub(downSince) > m.staleAfter {
				m.idle(l) // down long: judged afresh
			}
			downSince = time.Time{}
			seq, err := p.Send()
			if errors.Is(err, ErrSkip) {
				continue // no probe this time, and no loss
			}
			if err != nil {
				m.record(l, Sample{At: now, Lost: true, Rate: r})
				continue
			}
			sent[seq] = probeSent{at: now, rate: r}
		}
	}
}

// probeSent is a probe in flight: when it left, and the tunnel's rate in
// the interval before.
type probeSent struct {
	at   time.Time
	rate float64
}

// rateMeter returns a function giving the busier direction's bits a
// second through iface since its last call (0 the first time, on an error,
// or when the counters went back: the interface was made again).
func (m *Monitor) rateMeter(iface string) func(time.Time) float64 {
	if m.traffic == nil || iface == "" {
		return func(time.Time) float64 { return 0 }
	}
	var lastRx, lastTx uint64
	var last time.Time
	return func(now time.Time) float64 {
		rx, tx, err := m.traffic(iface)
		if err != nil {
			last = time.Time{}
			return 0
		}
		prev, prevRx, prevTx := last, lastRx, lastTx
		last, lastRx, lastTx = now, rx, tx
		dt := now.Sub(prev).Seconds()
		if prev.IsZero() || dt <= 0 || rx < prevRx || tx < prevTx {
			return 0
		}
		return 8 * float64(max(rx-prevRx, tx-prevTx)) / dt
	}
}

// pause marks a down tunnel as not judged. Its window and verdict stay:
// a tunnel BFD takes out and back in again and again (a lossy carrier)
// keeps the figures of its spells up; probes while it is down would only
// say what BFD already said.
func (m *Monitor) pause(l *loop) {
	m.mu.Lock()
	l.judged = false
	m.mu.Unlock()
}

// idle forgets the window and verdict of a tunnel that was down longer
// than staleAfter: it is judged afresh, not kept out by an old verdict.
func (m *Monitor) idle(l *loop) {
	m.mu.Lock()
	was := l.judge.Verdict().Degraded
	l.judge.Reset(time.Now())
	l.judged = false
	m.mu.Unlock()
	if was {
		m.notify()
	}
}

func (m *Monitor) record(l *loop, s Sample) {
	m.mu.Lock()
	l.judged = true
	changed := l.judge.Add(s)
	v := l.judge.Verdict()
	m.mu.Unlock()
	if !changed {
		return
	}
	if v.Degraded {
		m.log.Warn("tunnel breaks its sla", "link", l.target.Link, "reason", v.Reason)
	} else {
		m.log.Info("tunnel meets its sla again", "link", l.target.Link, "was", v.Reason)
	}
	m.notify()
}

// notify hands every verdict to onChange.
func (m *Monitor) notify() {
	m.mu.Lock()
	out := make(map[string]Verdict, len(m.loops))
	for name, l := range m.loops {
		out[name] = l.judge.Verdict()
	}
	m.mu.Unlock()
	m.onChange(out)
}

// Status lists every tunnel's figures and verdict, by link name.
func (m *Monitor) Status() []LinkStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]LinkStatus, 0, len(m.loops))
	for name, l := range m.loops {
		q, v := l.judge.Quality(), l.judge.Verdict()
		out = append(out, LinkStatus{Link: name, Target: l.target.Addr, Judging: l.judged, Limits: l.target.Thresholds.Judged(), Samples: q.Samples,
			RTTMs: units.Millis(q.RTT), JitterMs: units.Millis(q.Jitter), LossPercent: q.Loss,
			RateKbps: kbps(q.Rate), GoodputKbps: kbps(q.Goodput), LoadedSamples: q.Loaded,
			BaselineRTTMs: units.Millis(q.Baseline), Probe: l.via,
			Degraded: v.Degraded, Since: v.Since, Reason: v.Reason})
	}
	slices.SortFunc(out, func(a, b LinkStatus) int { return strings.Compare(a.Link, b.Link) })
	return out
}

// Close stops every loop.
func (m *Monitor) Close() { m.Set(nil) }

// kbps rounds bits a second to kbit/s with one decimal.
func kbps(bps float64) float64 { return math.Round(bps/100) / 10 }
