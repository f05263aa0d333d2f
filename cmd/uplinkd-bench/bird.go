package main

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/uplinkd/uplinkd/internal/lab"
)

// BIRD on ubn-bira checks its static route's next hop with BFD at
// uplinkd's timers and exports it to a kernel table of its own; BIRD on
// ubn-birb answers the session.
const (
	birdTable = 150
	birdA     = `router id 198.18.201.1;
log stderr { warning, error, fatal };
protocol device { scan time 10; }
protocol bfd {
	interface "bra0" { min rx interval 100 ms; min tx interval 100 ms; idle tx interval 1000 ms; multiplier 3; };
}
protocol static {
	ipv4;
	route 198.51.100.0/24 via 198.18.201.2 bfd;
}
protocol kernel {
	ipv4 { export all; };
	kernel table 150;
}
`
	birdB = `router id 198.18.201.2;
log stderr { warning, error, fatal };
protocol device { scan time 10; }
protocol bfd {
	interface "brb0" { min rx interval 100 ms; min tx interval 100 ms; idle tx interval 1000 ms; multiplier 3; };
	neighbor 198.18.201.1 dev "brb0" local 198.18.201.2;
}
`
)

// birdRow: row 1, the peer. Blackhole → BIRD's kernel route gone, n
// times, against uplinkd's blackhole figures of the same run.
func birdRow(ctx context.Context, n int) row {
	const id, name = "1d", "failover peer: BIRD 2 + BFD 100 ms × 3, blackhole → kernel route gone"
	if _, err := exec.LookPath("bird"); err != nil {
		return notMeasured(id, name, "bird is not installed (apt-get install -y --no-install-recommends bird2)")
	}
	took, err := birdFailovers(ctx, n, birdA, birdB)
	if len(took) == 0 {
		return failed(id, name, err)
	}
	p50, p99, s := dist(took)
	r := row{id: id, name: name, peer: s, err: err}
	if blackholeP50 > 0 {
		r.uplinkd = fmt.Sprintf("p50 %s / p99 %s (row 1b)", ms(blackholeP50), ms(blackholeP99))
		q50, q99 := blackholeP50.Seconds()/p50.Seconds(), blackholeP99.Seconds()/p99.Seconds()
		r.ratio = fmt.Sprintf("p50 %.2f, p99 %.2f; goal ≤ 1.0", q50, q99)
		r.verdict = verdict(q50 <= 1 && q99 <= 1)
	} else {
		r.verdict = "info (no uplinkd figure to compare)"
	}
	return r
}

// birdFailovers runs BIRD with confB on ubn-birb, then confA on ubn-bira,
// and blackholes ubn-birb n times: each time, the fault → BIRD's route gone
// from table 150 of ubn-bira.
func birdFailovers(ctx context.Context, n int, confA, confB string) ([]time.Duration, error) {
	a, b := "ubn-bira", "ubn-birb"
	remove, err := nsPair(a, b, "bra0", "brb0", "198.18.201.1/30", "198.18.201.2/30")
	if err != nil {
		return nil, err
	}
	defer remove()
	dir, removeDir, err := tempDir("uplinkd-bench-bird")
	if err != nil {
		return nil, err
	}
	defer removeDir()
	var birds []*bird
	for _, s := range []struct{ ns, conf string }{{b, confB}, {a, confA}} {
		bd, err := startBird(s.ns, dir, s.conf)
		if err != nil {
			return nil, err
		}
		defer bd.stop()
		birds = append(birds, bd)
	}
	h, err := nlAt(a)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var took []time.Duration
	for i := range n {
		if err := waitBirdRoute(ctx, h, true, 20*time.Second); err != nil {
			return took, fmt.Errorf("iteration %d: before the fault: %w; bird says: %.300s", i+1, err, birds[0].logs.String()+birds[1].logs.String())
		}
		time.Sleep(settle())
		t0 := time.Now()
		if err := lab.Blackhole(b, "brb0"); err != nil {
			return took, err
		}
		err := waitBirdRoute(ctx, h, false, 15*time.Second)
		gone := time.Now()
		if rerr := lab.Unblackhole(b); rerr != nil {
			return took, rerr
		}
		if err != nil {
			return took, fmt.Errorf("iteration %d: %w", i+1, err)
		}
		took = append(took, gone.Sub(t0))
	}
	logf("bird: %v", took)
	return took, nil
}

// waitBirdRoute polls BIRD's kernel table every millisecond until its
// route is present (or gone).
func waitBirdRoute(ctx context.Context, h *netlink.Handle, present bool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	filter := &netlink.Route{Table: birdTable}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		rs, err := h.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_TABLE)
		if err == nil && (len(rs) > 0) == present {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("BIRD's route in table %d present=%v not reached within %s", birdTable, present, limit)
}

func nlAt(name string) (*netlink.Handle, error) {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}
