package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/lab"
)

// flowDevs asks the edge's FIB which tunnel each of n UDP flows from
// ul-lan to ul-web takes (`ip route get … sport N`: nothing is sent).
func flowDevs(l *benchLab, port, n int) ([]string, error) {
	return flowDevsTo(l, "udp", lab.WhoAmIPort, port, n)
}

// flowDevsTo is flowDevs for proto ("udp" or "tcp") to ul-web's dport.
func flowDevsTo(l *benchLab, proto string, dport, port, n int) ([]string, error) {
	var batch strings.Builder
	for i := range n {
		fmt.Fprintf(&batch, "route get %s from %s iif lan0 ipproto %s sport %d dport %d\n", lab.WebAddr, lab.LANHost, proto, port+i, dport)
	}
	cmd := exec.Command("ip", "-n", l.NS("home"), "-force", "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	out, _ := cmd.CombinedOutput()
	var devs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != lab.WebAddr {
			continue
		}
		for k := range f {
			if f[k] == "dev" && k+1 < len(f) {
				devs = append(devs, f[k+1])
			}
		}
	}
	if len(devs) != n {
		return nil, fmt.Errorf("ip route get answered %d of %d flows: %.200s", len(devs), n, out)
	}
	return devs, nil
}

// stabilityRow: row 2. 300 flows, one uplink fails, the share of flows on
// the surviving uplinks that moved: resilient groups (the lab default)
// against plain multipath (the edge restarted with resilient = "off").
func stabilityRow(ctx context.Context, l *benchLab) []row {
	const id, name = "2", "flow stability: 300 flows, each carrier failed in turn, survivors' flows moved (peer: plain multipath)"
	res, err := movedShare(ctx, l)
	if err != nil {
		return []row{failed(id, name, err)}
	}
	orig, err := os.ReadFile(l.ConfigPath("edge"))
	if err != nil {
		return []row{failed(id, name, err)}
	}
	var plain string
	err = restartEdge(ctx, l, string(orig)+"\n[ecmp]\nresilient = \"off\"\n", func(group uint32) bool { return group == 0 })
	if err == nil {
		plain, err = movedShare(ctx, l)
	}
	if rerr := restartEdge(ctx, l, string(orig), func(group uint32) bool { return group != 0 }); rerr != nil {
		err = fmt.Errorf("restore resilient groups: %w", rerr)
	}
	r := row{id: id, name: name, uplinkd: res, peer: plain, ratio: "goal 0 %", verdict: verdict(strings.HasPrefix(res, "0 of")), err: err}
	return []row{r}
}

// movedShare fails each carrier in turn (link down on the carrier side):
// with hash-threshold multipath, losing the middle next hop moves no
// survivor, losing the first or the last does, so one carrier alone would
// flatter or blame the peer. It sums the flows on the other two tunnels
// that changed tunnel.
func movedShare(ctx context.Context, l *benchLab) (string, error) {
	moved, survivors := 0, 0
	for _, c := range lab.Carriers {
		m, s, err := movedOnce(ctx, l, c)
		if err != nil {
			return "", fmt.Errorf("%s fails: %w", c, err)
		}
		moved, survivors = moved+m, survivors+s
	}
	return fmt.Sprintf("%d of %d (%.1f %%)", moved, survivors, 100*float64(moved)/float64(max(survivors, 1))), nil
}

func movedOnce(ctx context.Context, l *benchLab, c string) (moved, survivors int, err error) {
	if _, err := l.waitVia(ctx, 20*time.Second, allThree()); err != nil {
		return 0, 0, err
	}
	// A returning tunnel regains its buckets only once they idle for the
	// group's idle timer: measure from a balanced group.
	if err := waitBalanced(ctx, l, 30*time.Second); err != nil {
		return 0, 0, err
	}
	before, err := flowDevs(l, 20000, 300)
	if err != nil {
		return 0, 0, err
	}
	if err := carrierLink(l, c, false); err != nil {
		return 0, 0, err
	}
	_, err = l.waitVia(ctx, 10*time.Second, without(c))
	var after []string
	if err == nil {
		after, err = flowDevs(l, 20000, 300)
	}
	if rerr := carrierLink(l, c, true); rerr != nil || err != nil {
		return 0, 0, errors.Join(err, rerr)
	}
	for i := range before {
		if before[i] == l.EdgeTunnel(c) {
			continue
		}
		survivors++
		if after[i] != before[i] {
			moved++
		}
	}
	return moved, survivors, nil
}

// restartEdge writes the edge config, restarts its daemon and waits for
// the default route over three tunnels in the wanted kind of group.
func restartEdge(ctx context.Context, l *benchLab, conf string, kind func(uint32) bool) error {
	if err := os.WriteFile(l.ConfigPath("edge"), []byte(conf), 0o644); err != nil {
		return err
	}
	if err := l.Stop("edge"); err != nil {
		return err
	}
	if err := l.Start("edge"); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if l.learnTunnels() == nil {
			via, group, err := l.defaultVia()
			if err == nil && allThree()(via) && kind(group) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("edge restarted: no default route over three tunnels of the wanted kind within 30 s")
}
