package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
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
		hubRow("9a", "hub cut (SIGKILL + link down) → FIB without its tunnels", kill, kerr, 300*time.Millisecond),
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
// first error.
func hubSeries(ctx context.Context, l *lab.Lab, n int, once func(context.Context, *lab.Lab) (time.Duration, error)) ([]time.Duration, error) {
	var took []time.Duration
	for i := range n {
		if err := waitSix(ctx, l, 30*time.Second); err != nil {
			return took, fmt.Errorf("iteration %d, before the fault: %w", i+1, err)
		}
		time.Sleep(settle())
		d, err := once(ctx, l)
		if err != nil {
			return took, fmt.Errorf("iteration %d: %w", i+1, err)
		}
		took = append(took, d)
	}
	logf("two hubs: %v", took)
	return took, nil
}

func killHubOnce(ctx context.Context, l *lab.Lab) (time.Duration, error) {
	start := time.Now()
	killed := make(chan error, 1)
	go func() { killed <- l.KillHub("hub") }()
	took, err := l.WaitDefaultOnly(ctx, "hub2", start, 5*time.Second)
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
func lastResortOnce(ctx context.Context, l *lab.Lab) (time.Duration, error) {
	start := time.Now()
	for _, site := range l.HubSites() {
		if err := blackhole(l.NS(site), "eth0"); err != nil {
			return 0, err
		}
	}
	took, err := waitDefaultDev(ctx, l, "breakout", start, 5*time.Second)
	for _, site := range l.HubSites() {
		if rerr := unblackhole(l.NS(site)); rerr != nil {
			return 0, rerr
		}
	}
	return took, err
}

// waitSix waits until the edge's default leaves by all six tunnels.
func waitSix(ctx context.Context, l *lab.Lab, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if len(defaultDevs(l)) == 2*len(lab.Carriers) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("default not over six tunnels within %s: %v", limit, defaultDevs(l))
}

// waitDefaultDev waits until the edge's default leaves only by dev.
func waitDefaultDev(ctx context.Context, l *lab.Lab, dev string, start time.Time, limit time.Duration) (time.Duration, error) {
	for time.Since(start) < limit && ctx.Err() == nil {
		if d := defaultDevs(l); len(d) == 1 && d[0] == dev {
			return time.Since(start), nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("default not via %s within %s: %v", dev, limit, defaultDevs(l))
}

func defaultDevs(l *lab.Lab) []string {
	out, _ := exec.Command("ip", "-n", l.NS("home"), "route", "show", "0.0.0.0/0").Output()
	var devs []string
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			devs = append(devs, f[i+1])
		}
	}
	return devs
}
