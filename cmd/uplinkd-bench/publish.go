package main

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/uplinkd/uplinkd/internal/lab"
)

// publishRows: row 10, inbound through the hub. 10a: a long-lived TCP
// stream from the LAN host's published server to ul-web, its tunnel
// blackholed n times (the carrier it is on each time): the longest stall
// of the stream, goal p99 ≤ 1 s, no reset. 10b: iperf3 from ul-web to the
// hub's published port (DNAT, through the tunnel to the LAN host) against
// iperf3 from the hub itself to the LAN host through the same tunnel (the
// other carriers down, so both take docomo's).
func publishRows(ctx context.Context, l *benchLab, n int) []row {
	stalls, err := streamSeries(ctx, l, n)
	rows := []row{hubRow("10a", "published TCP stream: its tunnel blackholed → longest stall", stalls, err, time.Second)}
	return append(rows, publishedThroughputRow(ctx, l))
}

func streamSeries(ctx context.Context, l *benchLab, n int) ([]time.Duration, error) {
	w, err := l.WatchDefault()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	all := func(d []string) bool { return len(d) == len(lab.Carriers) }
	var stalls []time.Duration
	for i := range n {
		if _, devs, err := w.Wait(ctx, time.Now(), 30*time.Second, all); err != nil {
			return stalls, fmt.Errorf("iteration %d, before the fault: not over three tunnels: %v: %w", i+1, devs, err)
		}
		time.Sleep(settle())
		d, err := streamOnce(l)
		if err != nil {
			return stalls, fmt.Errorf("iteration %d: %w", i+1, err)
		}
		logf("row 10a %d/%d: stall %v", i+1, n, d.Round(time.Millisecond))
		stalls = append(stalls, d)
	}
	return stalls, nil
}

// streamOnce opens a stream, blackholes its carrier for 3 s and says the
// longest stall; an ended stream is an error.
func streamOnce(l *benchLab) (time.Duration, error) {
	sw, stop, err := l.OpenStream()
	if err != nil {
		return 0, err
	}
	defer stop()
	carrier, err := l.StreamCarrier()
	if err != nil {
		return 0, err
	}
	sw.Mark()
	if err := lab.Blackhole(l.NS(carrier), "home0"); err != nil {
		return 0, err
	}
	time.Sleep(3 * time.Second)
	stall, serr := sw.Longest()
	if err := lab.Unblackhole(l.NS(carrier)); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, fmt.Errorf("the stream on %s ended: %w", carrier, serr)
	}
	return stall, nil
}

func publishedThroughputRow(ctx context.Context, l *benchLab) row {
	const id, name = "10b", "published TCP throughput: iperf3 web → hub's published port → LAN host, one tunnel (peer: iperf3 hub → LAN host, same tunnel)"
	if _, err := exec.LookPath("iperf3"); err != nil {
		return notMeasured(id, name, "iperf3 is not installed (apt-get install -y --no-install-recommends iperf3)")
	}
	for _, c := range lab.Carriers[1:] {
		if err := l.SetCarrierLink(c, false); err != nil {
			return failed(id, name, err)
		}
		defer l.SetCarrierLink(c, true)
	}
	time.Sleep(2 * time.Second) // BFD takes the other tunnels out
	// The stream's port: the published one leads to it.
	srv := exec.Command("ip", "netns", "exec", l.NS("lan"), "iperf3", "-s", "-p", fmt.Sprint(lab.StreamPort))
	if err := srv.Start(); err != nil {
		return failed(id, name, err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	time.Sleep(300 * time.Millisecond)
	// Five pairs, interleaved: one 4 s run swings by ±15 % on two CPUs
	// shared by both wireguard-go ends, iperf3's two ends and the kernel.
	var pub, plain []float64
	for i := range 5 {
		for _, t := range []struct {
			ns, addr string
			into     *[]float64
		}{
			{l.NS("web"), fmt.Sprintf("%s -p %d", lab.HubPublic, lab.StreamPublishPort), &pub},
			{l.NS("hub"), fmt.Sprintf("%s -p %d", lab.LANHost, lab.StreamPort), &plain},
		} {
			bps, err := iperfFrom(ctx, t.ns, t.addr)
			if err != nil {
				return failed(id, name, err)
			}
			*t.into = append(*t.into, bps)
		}
		logf("row 10b %d/5: published %s, from the hub %s", i+1, gbit(pub[i]), gbit(plain[i]))
	}
	p, q := median(pub), median(plain)
	return row{id: id, name: name, uplinkd: gbit(p) + " (median of 5 × 4 s)", peer: gbit(q),
		ratio: fmt.Sprintf("%.2f; goal ≥ 0.9", p/q), verdict: verdict(p >= 0.9*q)}
}
