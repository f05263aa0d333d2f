package main

import (
	"context"
	"fmt"
	"time"

	"github.com/uplinkd/uplinkd/internal/lab"
)

// hubRows: row 9, a lab of two hubs (tag "h", namespaces ulh-*): 9a the
// first hub's daemon SIGKILLed and its link cut → the edge's default over
// the second hub's tunnels only; 9b every hub blackholed → the default
// through the last resort (the 5G router). n of each, the hub restored and
// all six tunnels back before the next.
func hubRows(ctx context.Context, bin string, n int) []row {
	l := lab.New(lab.Options{Tag: "h", Binary: bin, Hubs: 2})
	addCleanup(func() { l.Down() })
	defer l.Down()
	if err := l.Up(ctx, discard{}); err != nil {
		return []row{failed("9", "two-hub lab up", err)}
	}
	kill, kerr := hubSeries(ctx, l, n, killHubOnce)
	lr, lerr := hubSeries(ctx, l, n, lastResortOnce)
	return []row{
		// A cut hub is silent, as row 1b's blackhole: nothing tells the
		// edge before BFD's 3 × 100 ms after the last packet, and the
		// row waits for the last of three tunnels. Its goal is 1b's, that
		// bound plus 2 ms from detection to the FIB (it was 300 ms, which
		// a sample whose last packet came just before the cut cannot meet).
		hubRow("9a", "hub cut (SIGKILL + link down) → FIB without its tunnels", kill, kerr, 302*time.Millisecond),
		hubRow("9b", "every hub blackholed → last-resort default installed", lr, lerr, 400*time.Millisecond),
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func hubRow(id, name string, took []time.Duration, err error, goal time.Duration) row {
	if len(took) == 0 {
		return failed(id, name, err)
	}
	_, p99, s := dist(took)
	return row{id: id, name: name, uplinkd: s, ratio: fmt.Sprintf("p99 goal ≤ %d ms", goal.Milliseconds()),
		verdict: verdict(p99 <= goal), err: err}
}

// hubSeries runs one fault n times, keeping what it measured up to the
// first error. The edge's default is read over rtnetlink every
// millisecond, from this process.
func hubSeries(ctx context.Context, l *lab.Lab, n int, once func(context.Context, *lab.Lab, *lab.DefaultWatch) (time.Duration, error)) ([]time.Duration, error) {
	w, err := l.WatchDefault()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	var took []time.Duration
	for i := range n {
		if _, devs, err := w.Wait(ctx, time.Now(), 30*time.Second, func(d []string) bool { return len(d) == 2*len(lab.Carriers) }); err != nil {
			return took, fmt.Errorf("iteration %d, before the fault: not over six tunnels: %v: %w", i+1, devs, err)
		}
		time.Sleep(settle())
		d, err := once(ctx, l, w)
		if err != nil {
			return took, fmt.Errorf("iteration %d: %w", i+1, err)
		}
		took = append(took, d)
	}
	logf("two hubs: %v", took)
	return took, nil
}

func killHubOnce(ctx context.Context, l *lab.Lab, w *lab.DefaultWatch) (time.Duration, error) {
	start := time.Now()
	killed := make(chan error, 1)
	go func() { killed <- l.KillHub("hub") }()
	took, _, err := w.Wait(ctx, start, 5*time.Second, l.OnlyTunnelsTo("hub2"))
	if kerr := <-killed; kerr != nil {
		return 0, kerr
	}
	if rerr := l.RestartHub("hub"); rerr != nil {
		return 0, rerr
	}
	return took, err
}

// lastResortOnce blackholes both hubs' public links at once (one
// nftables batch each, from this process: no process start in the timed
// span), then lifts it.
func lastResortOnce(ctx context.Context, l *lab.Lab, w *lab.DefaultWatch) (time.Duration, error) {
	start := time.Now()
	if err := l.BlackholeHubs(true); err != nil {
		return 0, err
	}
	took, _, err := w.Wait(ctx, start, 5*time.Second, lab.OnlyVia("breakout"))
	if rerr := l.BlackholeHubs(false); rerr != nil {
		return 0, rerr
	}
	return took, err
}
