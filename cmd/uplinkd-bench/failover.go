package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/lab"
)

// fault is one way an uplink dies, applied in its carrier's namespace.
type fault struct {
	id, name       string
	apply, restore func(l *benchLab, carrier string) error
	goal           time.Duration // p99
}

var faults = []fault{
	{id: "1a", name: "link down on the carrier side",
		apply:   func(l *benchLab, c string) error { return carrierLink(l, c, false) },
		restore: func(l *benchLab, c string) error { return carrierLink(l, c, true) },
		// The edge's kernel reports lost carrier at once: no BFD wait.
		goal: 20 * time.Millisecond},
	{id: "1b", name: "all packets dropped (nftables), link up",
		apply:   func(l *benchLab, c string) error { return lab.Blackhole(l.NS(c), "home0") },
		restore: func(l *benchLab, c string) error { return lab.Unblackhole(l.NS(c)) },
		// BFD's own bound is 3 × 100 ms after the last packet received.
		goal: 302 * time.Millisecond},
}

// carrierLink sets the carrier's end of the home link down or up through
// netlink (no process start inside the timed span).
func carrierLink(l *benchLab, carrier string, up bool) error {
	ns, err := netns.GetFromName(l.NS(carrier))
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName("home0")
	if err != nil {
		return err
	}
	if up {
		return h.LinkSetUp(link)
	}
	return h.LinkSetDown(link)
}

// failoverRows: row 1. Each fault n times, rotating over the carriers:
// fault → the kernel's default route without that tunnel, polled every
// millisecond; restored, and back over three tunnels (after the 1 s
// hold-down) before the next one. The daemon's own "detected" and "FIB
// done" stamps give detection → FIB.
func failoverRows(ctx context.Context, l *benchLab, n int) []row {
	var rows []row
	var detectToFIB []time.Duration
	for _, f := range faults {
		name := fmt.Sprintf("failover: %s → FIB without it (carrier watch; BFD 100 ms × 3)", f.name)
		took, dfib, err := failoverSeries(ctx, l, f, n, 10*time.Second)
		detectToFIB = append(detectToFIB, dfib...)
		if len(took) == 0 {
			rows = append(rows, failed(f.id, name, err))
			continue
		}
		_, p99, s := dist(took)
		r := row{id: f.id, name: name, uplinkd: s, ratio: fmt.Sprintf("p99 goal ≤ %d ms", f.goal.Milliseconds()), verdict: verdict(p99 <= f.goal), err: err}
		rows = append(rows, r)
		if f.id == "1b" {
			blackholeP50, blackholeP99 = percentiles(took)
		}
	}
	if len(detectToFIB) > 0 {
		_, p99, s := dist(detectToFIB)
		rows = append(rows, row{id: "1c", name: "failover: daemon's detection → FIB change (its status stamps)",
			uplinkd: s, ratio: "p99 goal ≤ 2 ms", verdict: verdict(p99 <= 2*time.Millisecond)})
	}
	return rows
}

// failoverSeries fails a carrier n times, rotating, and returns fault →
// FIB of each, and the daemon's detection → FIB where its status says.
// limit bounds one detection. It stops at the first error, keeping what
// it measured.
func failoverSeries(ctx context.Context, l *benchLab, f fault, n int, limit time.Duration) (took, detectToFIB []time.Duration, err error) {
	for i := range n {
		c := lab.Carriers[i%len(lab.Carriers)]
		d, dfib, err := failOnce(ctx, l, f, c, limit)
		if err != nil {
			return took, detectToFIB, fmt.Errorf("iteration %d (%s): %w", i+1, c, err)
		}
		took = append(took, d)
		if dfib >= 0 {
			detectToFIB = append(detectToFIB, dfib)
		}
	}
	logf("%s: %v", f.name, took)
	return took, detectToFIB, nil
}

// blackholeP50/P99 are uplinkd's figures the BIRD row compares with.
var blackholeP50, blackholeP99 time.Duration

// settle is the pause before a fault: 300 ms and a random part longer than
// a BFD transmit interval. A fixed pause after the session came back would
// put every fault at the same point of the peer's transmit schedule (BIRD's
// is anchored to its session coming up), measuring one detection time
// instead of their spread.
func settle() time.Duration {
	return 300*time.Millisecond + rand.N(150*time.Millisecond)
}

func percentiles(ds []time.Duration) (time.Duration, time.Duration) {
	p50, p99, _ := dist(ds)
	return p50, p99
}

// failOnce fails one carrier and restores it. It returns fault → FIB and
// the daemon's detection → FIB (-1 when its status does not say).
func failOnce(ctx context.Context, l *benchLab, f fault, c string, limit time.Duration) (time.Duration, time.Duration, error) {
	if _, err := l.waitVia(ctx, 20*time.Second, allThree()); err != nil {
		return 0, 0, fmt.Errorf("before the fault: %w", err)
	}
	time.Sleep(settle()) // BFD and BGP settled on the returned tunnel
	t0 := time.Now()
	if err := f.apply(l, c); err != nil {
		return 0, 0, err
	}
	at, err := l.waitVia(ctx, limit, without(c))
	if rerr := f.restore(l, c); rerr != nil {
		return 0, 0, rerr
	}
	if err != nil {
		return 0, 0, err
	}
	dfib := time.Duration(-1)
	if st, err := api.NewClient(l.Socket("edge")).Status(); err == nil && st.ECMP != nil && st.ECMP.Failover != nil {
		if fo := st.ECMP.Failover; fo.Detected.After(t0) && !fo.FIBDone.Before(fo.Detected) {
			dfib = fo.FIBDone.Sub(fo.Detected)
		}
	}
	return at.Sub(t0), dfib, nil
}
