package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
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

// goodputRow: row 11b, steering away from a carrier throttled to
// 128 kbit/s (tc tbf, 300 ms of queue) while a flow runs on it. Both
// daemons run BFD at 300 ms × 10 (lab.MobileBFD: at 100 ms × 3 BFD itself
// takes a throttled, loaded tunnel out), the edge judges docomo by its
// goodput alone (lab.WithGoodputSLA: 1000 kbit/s, window 2 s, breach 1 s).
// Measured: throttle → the edge's default without docomo. The floor is
// half the window full (1 s) plus the breach (1 s).
func goodputRow(ctx context.Context, l *benchLab, n int) row {
	const id, name = "11b", "SLA: a loaded carrier throttled to 128 kbit/s → out of ECMP by its goodput (limit 1000 kbit/s, BFD 300 ms × 10)"
	var restores []func() error
	defer func() {
		l.Shape("docomo", 0)
		for i := len(restores) - 1; i >= 0; i-- {
			restores[i]()
		}
	}()
	for _, e := range []struct {
		site string
		edit func(string) string
	}{
		{"hub", mobileBFD}, {"edge", mobileBFD}, {"edge", lab.WithGoodputSLA},
	} {
		restore, err := l.EditConfig(e.site, e.edit)
		if err != nil {
			return failed(id, name, err)
		}
		restores = append(restores, restore)
	}
	if err := l.WaitSLAJudging(1, 20*time.Second); err != nil {
		return failed(id, name, err)
	}
	w, err := l.WatchDefault()
	if err != nil {
		return failed(id, name, err)
	}
	defer w.Close()
	var took []time.Duration
	byBFD := 0
	for i := range n {
		d, cause, err := throttledOut(ctx, l, w)
		if err != nil {
			return failedWith(id, name, took, fmt.Errorf("iteration %d: %w", i+1, err))
		}
		logf("row 11b %d/%d: out after %v (%s)", i+1, n, d.Round(time.Millisecond), cause)
		took = append(took, d)
		if !strings.Contains(cause, "goodput") {
			byBFD++
		}
	}
	_, p99, s := dist(took)
	if byBFD > 0 {
		// Those samples time BFD, not the judge: the row says so.
		s += fmt.Sprintf(", %d of %d out by BFD before the judge", byBFD, n)
	}
	return row{id: id, name: name, uplinkd: s, ratio: "p99 goal ≤ 5 s", verdict: verdict(p99 <= 5*time.Second)}
}

// mobileBFD puts lab.MobileBFD into a site's [liveness].
func mobileBFD(c string) string {
	return strings.Replace(c, "[liveness]\n", "[liveness]\n"+lab.MobileBFD, 1)
}

// throttledOut loads docomo with a flow, throttles it, and times its way
// out of the edge's default; the throttle and the flows end before it
// returns, once docomo is back. cause is what the edge's status said of
// docomo once it was out: its SLA note, or its BFD state when the note
// does not name the goodput.
func throttledOut(ctx context.Context, l *benchLab, w *lab.DefaultWatch) (d time.Duration, cause string, err error) {
	all := func(d []string) bool { return len(d) == len(lab.Carriers) }
	without := func(d []string) bool {
		return len(d) == len(lab.Carriers)-1 && !slices.Contains(d, l.EdgeTunnel("docomo"))
	}
	if _, devs, err := w.Wait(ctx, time.Now(), 30*time.Second, all); err != nil {
		return 0, "", fmt.Errorf("not over three tunnels: %v: %w", devs, err)
	}
	up, err := l.StartUploads()
	if err != nil {
		return 0, "", err
	}
	defer up.Stop()
	if err := l.LoadCarrier(up, "docomo", 1, 20*time.Second); err != nil {
		return 0, "", err
	}
	time.Sleep(2 * time.Second) // a window of docomo full and fast
	if err := l.Shape("docomo", 128); err != nil {
		return 0, "", err
	}
	start := time.Now()
	d, devs, err := w.Wait(ctx, start, 20*time.Second, without)
	cause, sla := docomoSaid(l) // out: why; still in: what its SLA made of it
	if err := errors.Join(err, l.Shape("docomo", 0)); err != nil {
		return 0, "", fmt.Errorf("default via %v: %w; docomo's sla: %s", devs, err, sla)
	}
	return d, cause, nil
}

// docomoSaid reads the edge's status once: cause is why docomo is out of
// its ECMP set (its SLA note when that names the goodput, else its BFD
// state and the note), sla its SLA figures.
func docomoSaid(l *benchLab) (cause, sla string) {
	st, err := api.NewClient(l.Socket("edge")).Status()
	if err != nil {
		return "status: " + err.Error(), "status: " + err.Error()
	}
	cause, sla = "docomo not in status", "none"
	for _, link := range st.ECMP.Links {
		if link.Name == "docomo" {
			cause = "bfd " + link.BFD + "; " + link.SLANote
			if strings.Contains(link.SLANote, "goodput") {
				cause = link.SLANote
			}
		}
	}
	for _, s := range st.SLA {
		if s.Link == "docomo" {
			sla = fmt.Sprintf("%+v", s)
		}
	}
	return cause, sla
}
