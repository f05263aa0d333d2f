package main

import (
	"context"
	"fmt"
	"time"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/lab"
)

// coldStart: row 7. lab.Up from nothing to WaitRouting done, and, from its
// progress, the edge daemon's start and handshakes to the moment the
// kernel holds the default route over three tunnels (polled every 2 ms).
func coldStart(ctx context.Context, l *benchLab) ([]row, error) {
	ecmpAt := make(chan time.Time, 1)
	stop := make(chan struct{})
	w := &timedWriter{at: map[string]time.Time{}}
	w.onNew = func(step string) {
		if step == lab.StepEdgeDaemons {
			go watchECMP(l.NS("home"), stop, ecmpAt)
		}
	}
	t0 := time.Now()
	err := l.Up(ctx, w)
	done := time.Now()
	close(stop)
	if err != nil {
		return nil, err
	}
	if err := l.openEdge(); err != nil {
		return nil, err
	}
	var ecmp time.Time
	select {
	case ecmp = <-ecmpAt:
	default:
		return nil, fmt.Errorf("the default route over three tunnels was never seen while the lab came up")
	}
	edge, hs := w.when(lab.StepEdgeDaemons), w.when(lab.StepRouting)
	afterHS := max(0, ecmp.Sub(hs))
	return []row{
		{id: "7a", name: "cold start: lab.Up → WaitRouting done (10 namespaces, 2 daemons, 3 sessions, ECMP, breakout)",
			uplinkd: ms(done.Sub(t0)), verdict: "info"},
		{id: "7b", name: "cold start: edge daemon start → ECMP over 3 tunnels in the kernel",
			uplinkd: ms(ecmp.Sub(edge)), ratio: "goal ≤ 1 s", verdict: verdict(ecmp.Sub(edge) <= time.Second)},
		{id: "7c", name: "cold start: all handshakes seen → ECMP over 3 tunnels in the kernel",
			uplinkd: ms(afterHS), ratio: "goal ≤ 1 s", verdict: verdict(afterHS <= time.Second)},
	}, nil
}

// watchECMP reports when the default route first has three next hops.
func watchECMP(ns string, stop <-chan struct{}, at chan<- time.Time) {
	var h *fib.Handle
	if err := lab.InNS(ns, func() (err error) { h, err = fib.Open(); return err }); err != nil {
		logf("watch ECMP: %v", err)
		return
	}
	defer h.Close()
	for {
		select {
		case <-stop:
			return
		default:
		}
		st, ok, err := h.Multipath(254, config.RouteProtocol, defaultRoute)
		if err == nil && ok && len(st.Nexthops) == len(lab.Carriers) {
			at <- time.Now()
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}
