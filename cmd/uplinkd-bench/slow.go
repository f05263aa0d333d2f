package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// slowTimers is what the slow failover rows compare at: BFD off, the BGP
// hold timer at GoBGP's 3 s minimum, keepalive a third of it.
const slowTimers = "BFD off, BGP hold 3 s, keepalive 1 s"

// Row 1's peer at the slow timers: a BGP session between two BIRDs (no
// BFD), the route learnt from ubn-birb exported to table 150 of ubn-bira.
// Both retry at once after an error, as uplinkd does (connect retry 1 s):
// BIRD's defaults (120 s connect retry, 60 s error wait) would stretch
// each iteration, not the measured detection.
const (
	birdTimers = `hold time 3; keepalive time 1; connect delay time 1; connect retry time 1; error wait time 1, 1;`
	birdBGPA   = `router id 198.18.201.1;
log stderr { warning, error, fatal };
protocol device { scan time 10; }
protocol bgp hub {
	local 198.18.201.1 as 64512;
	neighbor 198.18.201.2 as 64513;
	` + birdTimers + `
	ipv4 { import all; export none; };
}
protocol kernel {
	ipv4 { export all; };
	kernel table 150;
}
`
	birdBGPB = `router id 198.18.201.2;
log stderr { warning, error, fatal };
protocol device { scan time 10; }
protocol static { ipv4; route 198.51.100.0/24 blackhole; }
protocol bgp edge {
	local 198.18.201.2 as 64513;
	neighbor 198.18.201.1 as 64512;
	passive on;
	` + birdTimers + `
	ipv4 { import none; export all; };
}
`
)

// slowFailoverRows: row 1 with uplinkd's fast liveness off. Both daemons
// are restarted with BFD off and the 3 s hold timer, each fault is applied
// n times as in rows 1a/1b, then the lab's own configs are restored (and
// the daemons restarted again). BIRD at the same timers follows.
func slowFailoverRows(ctx context.Context, l *benchLab, n int) []row {
	rows := uplinkdSlowRows(ctx, l, n)
	return append(rows, birdSlowRow(ctx, n))
}

// slowBlackhole is row 1f's sample, which row 1g compares with.
var slowBlackhole []time.Duration

func uplinkdSlowRows(ctx context.Context, l *benchLab, n int) []row {
	ids := map[string]string{"1a": "1e", "1b": "1f"}
	orig, err := readSites(l)
	if err != nil {
		return []row{failed("1e", "failover, "+slowTimers, err)}
	}
	slow := map[string]string{}
	for site, conf := range orig {
		if slow[site], err = withSlowLiveness(conf); err != nil {
			return []row{failed("1e", "failover, "+slowTimers, err)}
		}
	}
	if err := restartSites(ctx, l, slow); err != nil {
		// Leave the lab as the next rows expect it, whatever happened.
		err = errors.Join(fmt.Errorf("restart with slow timers: %w", err), restartSites(ctx, l, orig))
		return []row{failed("1e", "failover, "+slowTimers, err)}
	}
	var rows []row
	for _, f := range faults {
		id, name := ids[f.id], fmt.Sprintf("failover, %s: %s → FIB without it", slowTimers, f.name)
		took, _, err := failoverSeries(ctx, l, f, n, 15*time.Second)
		if len(took) == 0 {
			rows = append(rows, failed(id, name, err))
			continue
		}
		_, _, s := dist(took)
		rows = append(rows, row{id: id, name: name, uplinkd: s, ratio: "no goal of its own (see 1g)", verdict: "info", err: err})
		if f.id == "1b" {
			slowBlackhole = took
		}
	}
	if err := restartSites(ctx, l, orig); err != nil {
		rows = append(rows, failed("1e", "failover, "+slowTimers+": restore the lab's configs", err))
	}
	return rows
}

// birdSlowRow: row 1g, blackhole → BIRD's route gone, BGP alone at the same
// timers, against row 1f.
func birdSlowRow(ctx context.Context, n int) row {
	const id = "1g"
	name := "failover peer: BIRD 2, " + slowTimers + ", blackhole → kernel route gone"
	took, err := birdFailovers(ctx, n, birdBGPA, birdBGPB)
	if len(took) == 0 {
		return failed(id, name, err)
	}
	p50, p99, s := dist(took)
	r := row{id: id, name: name, peer: s, err: err}
	if len(slowBlackhole) == 0 {
		r.verdict = "info (no uplinkd figure to compare)"
		return r
	}
	u50, u99 := percentiles(slowBlackhole)
	r.uplinkd = fmt.Sprintf("p50 %s / p99 %s (row 1f)", ms(u50), ms(u99))
	q50, q99 := u50.Seconds()/p50.Seconds(), u99.Seconds()/p99.Seconds()
	r.ratio = fmt.Sprintf("p50 %.2f, p99 %.2f; goal ≤ 1.0", q50, q99)
	r.verdict = verdict(q50 <= 1 && q99 <= 1)
	return r
}

// withSlowLiveness turns BFD off and sets the hold timer to 3 s in a lab
// config (both sites have [bgp] and [liveness] tables).
func withSlowLiveness(conf string) (string, error) {
	if !strings.Contains(conf, "\n[bgp]\n") || !strings.Contains(conf, "\n[liveness]\n") {
		return "", errors.New("lab config without [bgp] or [liveness]: cannot set the slow timers")
	}
	conf = strings.Replace(conf, "\n[bgp]\n", "\n[bgp]\nhold_time = 3\nkeepalive = 1\n", 1)
	return strings.Replace(conf, "\n[liveness]\n", "\n[liveness]\nbfd = false\n", 1), nil
}

func readSites(l *benchLab) (map[string]string, error) {
	out := map[string]string{}
	for _, site := range []string{"hub", "edge"} {
		b, err := os.ReadFile(l.ConfigPath(site))
		if err != nil {
			return nil, err
		}
		out[site] = string(b)
	}
	return out, nil
}

// restartSites writes both configs and restarts both daemons, hub first
// (it is passive), then waits for the default route over three tunnels.
func restartSites(ctx context.Context, l *benchLab, confs map[string]string) error {
	for site, conf := range confs {
		if err := os.WriteFile(l.ConfigPath(site), []byte(conf), 0o644); err != nil {
			return err
		}
	}
	for _, site := range []string{"edge", "hub"} {
		if err := l.Stop(site); err != nil {
			return err
		}
	}
	for _, site := range []string{"hub", "edge"} {
		if err := l.Start(site); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if l.learnTunnels() == nil {
			if via, _, err := l.defaultVia(); err == nil && allThree()(via) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("daemons restarted: no default route over three tunnels within 60 s; see %s", l.LogPath("edge"))
}
