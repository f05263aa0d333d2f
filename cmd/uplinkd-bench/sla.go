package main

import (
	"context"
	"fmt"
	"time"

	"github.com/uplinkd/uplinkd/internal/lab"
)

// slaRow: row 11, steering away from a carrier that stays up but turns
// bad. With lab.SLAConfig on the edge (RTT limit 200 ms, window 1 s,
// breach 1 s), docomo's delay ramps by 100 ms/s to +300 ms (a queue
// building up: a step would stop packets long enough for BFD to call the
// link dead); measured: ramp start → the edge's default without docomo.
// The floor is the ramp to the limit (2 s) plus the breach (1 s); the
// window's mean lags the ramp a little.
func slaRow(ctx context.Context, l *benchLab, n int) row {
	const id, name = "11", "SLA: carrier delay ramping +100 ms/s → out of ECMP (limit 200 ms, breach 1 s)"
	restore, err := l.WithEdgeConfig(lab.SLAConfig)
	if err != nil {
		return failed(id, name, err)
	}
	defer restore()
	if err := l.WaitSLAJudging(len(lab.Carriers), 10*time.Second); err != nil {
		return failed(id, name, err)
	}
	w, err := l.WatchDefault()
	if err != nil {
		return failed(id, name, err)
	}
	defer w.Close()
	all := func(d []string) bool { return len(d) == len(lab.Carriers) }
	without := func(d []string) bool {
		for _, x := range d {
			if x == l.EdgeTunnel("docomo") {
				return false
			}
		}
		return len(d) == len(lab.Carriers)-1
	}
	var took []time.Duration
	for i := range n {
		if _, devs, err := w.Wait(ctx, time.Now(), 30*time.Second, all); err != nil {
			return failedWith(id, name, took, fmt.Errorf("iteration %d: not over three tunnels: %v: %w", i+1, devs, err))
		}
		time.Sleep(settle())
		dl, err := l.Delay("docomo", 300*time.Millisecond)
		if err != nil {
			return failedWith(id, name, took, err)
		}
		start := time.Now()
		d, devs, err := w.Wait(ctx, start, 15*time.Second, without)
		dl.Close()
		if err != nil {
			return failedWith(id, name, took, fmt.Errorf("iteration %d: default via %v: %w", i+1, devs, err))
		}
		logf("row 11 %d/%d: out after %v", i+1, n, d.Round(time.Millisecond))
		took = append(took, d)
	}
	_, p99, s := dist(took)
	return row{id: id, name: name, uplinkd: s, ratio: "p99 goal ≤ 5 s", verdict: verdict(p99 <= 5*time.Second)}
}

// failedWith is failed, keeping what was measured before the error.
func failedWith(id, name string, took []time.Duration, err error) row {
	if len(took) == 0 {
		return failed(id, name, err)
	}
	_, _, s := dist(took)
	r := failed(id, name, err)
	r.uplinkd = s
	return r
}
