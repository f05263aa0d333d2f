package sla

import (
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/probe"
)

// fakePinger answers each probe after the RTT its link is set to, or
// loses it.
type fakePinger struct {
	rtt     *atomic.Int64 // <0: lost
	mu      sync.Mutex
	seq     int
	replies chan probe.Reply
}

func (p *fakePinger) Send() (int, error) {
	p.mu.Lock()
	p.seq++
	seq := p.seq
	p.mu.Unlock()
	if r := p.rtt.Load(); r >= 0 {
		time.AfterFunc(time.Duration(r), func() {
			select {
			case p.replies <- probe.Reply{Seq: seq, At: time.Now()}:
			default:
			}
		})
	}
	return seq, nil
}
func (p *fakePinger) Replies() <-chan probe.Reply { return p.replies }
func (p *fakePinger) Close() error                { return nil }

type verdicts struct {
	mu      sync.Mutex
	last    map[string]Verdict
	cleared int // times docomo was reported not degraded
}

func (v *verdicts) set(m map[string]Verdict) {
	v.mu.Lock()
	v.last = m
	if !m["docomo"].Degraded {
		v.cleared++
	}
	v.mu.Unlock()
}

func (v *verdicts) clears() int { v.mu.Lock(); defer v.mu.Unlock(); return v.cleared }
func (v *verdicts) degraded(link string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.last[link].Degraded
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 3 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMonitor: a tunnel whose probes slow down is reported degraded, the
// other is not; down, it is not judged but keeps its verdict; down longer
// than the window it starts afresh; it recovers.
func TestMonitor(t *testing.T) {
	rtts := map[string]*atomic.Int64{"docomo": {}, "softbank": {}}
	for _, r := range rtts {
		r.Store(int64(20 * time.Millisecond))
	}
	addrs := map[netip.Addr]string{netip.MustParseAddr("198.18.100.0"): "docomo", netip.MustParseAddr("198.18.100.2"): "softbank"}
	open := func(a netip.Addr, _ string) (Pinger, error) {
		return &fakePinger{rtt: rtts[addrs[a]], replies: make(chan probe.Reply, 100)}, nil
	}
	var down atomic.Bool
	alive := func(link string) bool { return link != "docomo" || !down.Load() }
	var got verdicts
	m := NewMonitor(open, nil, alive, got.set, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.staleAfter = 500 * time.Millisecond
	defer m.Close()
	th := Thresholds{MaxRTT: 100 * time.Millisecond, MaxLoss: 20, Window: 200 * time.Millisecond,
		Breach: 100 * time.Millisecond, Recover: 200 * time.Millisecond}
	var targets []Target
	for a, link := range addrs {
		targets = append(targets, Target{Link: link, Addr: a, Interval: 10 * time.Millisecond, Thresholds: th})
	}
	m.Set(targets)

	rtts["docomo"].Store(int64(300 * time.Millisecond))
	waitFor(t, "docomo degraded", func() bool { return got.degraded("docomo") })
	if got.degraded("softbank") {
		t.Error("softbank degraded too")
	}
	// A flap longer than the window but shorter than staleAfter (BFD out
	// and back, as a lossy carrier does): the verdict stays.
	before := got.clears()
	down.Store(true)
	time.Sleep(300 * time.Millisecond)
	down.Store(false)
	time.Sleep(100 * time.Millisecond)
	if got.clears() != before || !got.degraded("docomo") {
		t.Error("a short flap cleared docomo's verdict")
	}
	down.Store(true)
	waitFor(t, "a down tunnel is not judged", func() bool {
		for _, s := range m.Status() {
			if s.Link == "docomo" {
				return !s.Judging
			}
		}
		return false
	})
	if !got.degraded("docomo") {
		t.Error("a tunnel that went down forgot its verdict at once")
	}
	// Down longer than staleAfter, back healthy: judged afresh, at once
	// good (a kept verdict would wait Recover for good probes).
	time.Sleep(600 * time.Millisecond)
	rtts["docomo"].Store(int64(20 * time.Millisecond))
	down.Store(false)
	waitFor(t, "docomo afresh after a long down", func() bool { return !got.degraded("docomo") })
	rtts["docomo"].Store(int64(300 * time.Millisecond))
	waitFor(t, "docomo degraded again", func() bool { return got.degraded("docomo") })
	rtts["docomo"].Store(-1)
	time.Sleep(100 * time.Millisecond)
	rtts["docomo"].Store(int64(20 * time.Millisecond))
	waitFor(t, "docomo recovered", func() bool { return !got.degraded("docomo") })

	m.Set(targets[:1])
	if n := len(m.Status()); n != 1 {
		t.Errorf("%d loops after Set of one target", n)
	}
}

// TestMonitorGoodput: the monitor reads the tunnel's counters each probe
// interval; a tunnel carrying 128 kbit/s with its probes queued is judged
// by its goodput, and status shows the rate.
func TestMonitorGoodput(t *testing.T) {
	rtt := &atomic.Int64{}
	rtt.Store(int64(5 * time.Millisecond))
	open := func(netip.Addr, string) (Pinger, error) {
		return &fakePinger{rtt: rtt, replies: make(chan probe.Reply, 100)}, nil
	}
	var fullSince atomic.Int64 // unix ns; 0: idle
	traffic := func(iface string) (uint64, uint64, error) {
		if iface != "wg-docomo" {
			t.Errorf("counters of %q read", iface)
		}
		since := fullSince.Load()
		if since == 0 {
			return 0, 0, nil
		}
		// 16,000 bytes a second sent: 128 kbit/s.
		return 100, uint64(time.Since(time.Unix(0, since)).Seconds() * 16000), nil
	}
	var got verdicts
	m := NewMonitor(open, traffic, func(string) bool { return true }, got.set, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer m.Close()
	th := Thresholds{MinGoodput: 1e6, LoadDelay: 30 * time.Millisecond, Window: 300 * time.Millisecond,
		Breach: 100 * time.Millisecond, Recover: time.Second}
	m.Set([]Target{{Link: "docomo", Interface: "wg-docomo", Addr: netip.MustParseAddr("198.18.100.0"), Interval: 10 * time.Millisecond, Thresholds: th}})
	time.Sleep(200 * time.Millisecond) // the quiet baseline
	fullSince.Store(time.Now().UnixNano())
	rtt.Store(int64(60 * time.Millisecond))
	waitFor(t, "docomo degraded by its goodput", func() bool { return got.degraded("docomo") })
	st := m.Status()[0]
	// The goodput is over the loaded probes, near 128 kbit/s; the rate is
	// over the whole window, which may still hold the idle start (a loaded
	// interval counts from 3 % of the limit, so the verdict can come
	// before the window is all load).
	if st.RateKbps <= 0 || st.RateKbps > 160 || st.GoodputKbps < 100 || st.GoodputKbps > 160 || st.LoadedSamples == 0 {
		t.Errorf("status %+v, want goodput near 128 kbit/s and a rate up to it", st)
	}
	if st.BaselineRTTMs < 4 || st.BaselineRTTMs > 20 {
		t.Errorf("baseline %v ms, want the quiet ~5 ms", st.BaselineRTTMs)
	}
	if !strings.Contains(st.Reason, "goodput") {
		t.Errorf("reason %q, want the goodput", st.Reason)
	}
}

// skipPinger skips every other probe (ErrSkip) and answers the others.
type skipPinger struct {
	fakePinger
	n int
}

func (p *skipPinger) Send() (int, error) {
	p.n++
	if p.n%2 == 0 {
		return 0, ErrSkip
	}
	return p.fakePinger.Send()
}

// TestMonitorSkippedProbesAreNotLost: a tunnel only measured (no limit)
// whose pinger skips half its probes shows them neither as samples nor as
// loss, and is never judged degraded.
func TestMonitorSkippedProbesAreNotLost(t *testing.T) {
	var rtt atomic.Int64
	rtt.Store(int64(5 * time.Millisecond))
	open := func(netip.Addr, string) (Pinger, error) {
		return &skipPinger{fakePinger: fakePinger{rtt: &rtt, replies: make(chan probe.Reply, 100)}}, nil
	}
	var got verdicts
	m := NewMonitor(open, nil, func(string) bool { return true }, got.set, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer m.Close()
	m.Set([]Target{{Link: "docomo", Addr: netip.MustParseAddr("198.18.100.0"), Interval: 10 * time.Millisecond,
		Thresholds: Thresholds{Window: 400 * time.Millisecond}}})
	time.Sleep(500 * time.Millisecond)
	st := m.Status()
	if len(st) != 1 || st[0].Samples < 10 || st[0].LossPercent != 0 || st[0].Degraded {
		t.Fatalf("status %+v; want samples, no loss, not degraded", st)
	}
	if st[0].Samples > 25 {
		t.Errorf("%d samples in a 400 ms window at 10 ms with half skipped, want about 20", st[0].Samples)
	}
}
