package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/lab"
)

// balanceRows: row 3. balanceFlows one-packet UDP flows from ul-lan with
// weights 1:1:1 and 3:2:1; each tunnel's share of what the FIB routed
// (the flows' packets counted by nftables in the edge), against its
// weight's share, in percentage points (the goal: each within
// ±5 of its share; its sampling noise ±1.8), and relative to the share.
// Beside it, the sampling noise: twice the binomial standard deviation
// of the largest noise of a share (a hash spreading flows perfectly at
// random deviates that much about one run in twenty).
func balanceRows(ctx context.Context, l *benchLab) []row {
	var rows []row
	for i, w := range [][]int{{1, 1, 1}, {3, 2, 1}} {
		id := fmt.Sprintf("3%c", 'a'+i)
		name := fmt.Sprintf("balance: %d flows, weights %d:%d:%d, largest deviation from a tunnel's share", balanceFlows, w[0], w[1], w[2])
		s, dev, rel, pred, err := balanceOnce(ctx, l, w, 30000+balanceFlows*i)
		if err != nil {
			rows = append(rows, failed(id, name, err))
			continue
		}
		rows = append(rows, row{id: id, name: name, uplinkd: s, peer: pred,
			ratio: fmt.Sprintf("%.1f pt (%.1f %% of the share); goal ≤ 5 pt (noise ±%.1f pt)",
				100*dev, 100*rel, 100*samplingNoise(w, balanceFlows)),
			verdict: verdict(dev <= 0.05)})
	}
	l.SetWeights(1, 1, 1)
	return rows
}

// balanceFlows is how many flows row 3 sends per weighting.
const balanceFlows = 3000

// samplingNoise is 2σ of a share of n flows placed at random, for the
// share nearest one half (whose noise is the largest).
func samplingNoise(w []int, n int) float64 {
	sum := 0
	for _, x := range w {
		sum += x
	}
	worst := 0.0
	for _, x := range w {
		p := float64(x) / float64(sum)
		worst = max(worst, 2*math.Sqrt(p*(1-p)/float64(n)))
	}
	return worst
}

// balanceOnce returns the packets each tunnel carried, the largest
// deviation of a tunnel's share from its weight's (absolute, and relative
// to that share), and what `ip route get` predicted for the same flows
// (the FIB's choice without the data path).
func balanceOnce(ctx context.Context, l *benchLab, w []int, port int) (string, float64, float64, string, error) {
	if err := l.SetWeights(w...); err != nil {
		return "", 0, 0, "", err
	}
	if _, err := l.waitVia(ctx, 15*time.Second, allThree(w...)); err != nil {
		return "", 0, 0, "", err
	}
	if err := waitBalanced(ctx, l, 30*time.Second); err != nil {
		return "", 0, 0, "", err
	}
	devs, err := flowDevs(l, port, balanceFlows)
	if err != nil {
		return "", 0, 0, "", err
	}
	predicted := map[string]int{}
	for _, d := range devs {
		predicted[d]++
	}
	var pred []string
	for _, c := range lab.Carriers {
		pred = append(pred, fmt.Sprint(predicted[l.EdgeTunnel(c)]))
	}
	predS := strings.Join(pred, "/") + " by ip route get"
	const n = balanceFlows
	if err := lab.RunNFT(l.NS("home"), flowCounters(l)); err != nil {
		return "", 0, 0, "", err
	}
	defer lab.RunNFT(l.NS("home"), "delete table inet ubench\n")
	before, err := tunnelTx(l)
	if err != nil {
		return "", 0, 0, "", err
	}
	if err := sendFlows(l, port, n); err != nil {
		return "", 0, 0, "", err
	}
	time.Sleep(300 * time.Millisecond)
	after, err := tunnelTx(l)
	if err != nil {
		return "", 0, 0, "", err
	}
	nftCounts, err := flowCounts(l)
	if err != nil {
		return "", 0, 0, "", err
	}
	sum := 0
	for _, x := range w {
		sum += x
	}
	counts, total := map[string]float64{}, 0.0
	var tx []string
	for _, c := range lab.Carriers {
		counts[c] = float64(nftCounts[c])
		total += counts[c]
		tx = append(tx, fmt.Sprint(after[c]-before[c]))
	}
	var parts []string
	worst, rel := 0.0, 0.0
	for i, c := range lab.Carriers {
		share, want := counts[c]/total, float64(w[i])/float64(sum)
		worst, rel = max(worst, abs(share-want)), max(rel, abs(share-want)/want)
		parts = append(parts, fmt.Sprintf("%.0f", counts[c]))
	}
	return fmt.Sprintf("%s of %d flows (tunnel tx %s)", strings.Join(parts, "/"), n, strings.Join(tx, "/")), worst, rel, predS, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// sendFlows sends one UDP packet per flow from ul-lan to ul-web, one
// source port per flow.
func sendFlows(l *benchLab, port, n int) error {
	return lab.InNS(l.NS("lan"), func() error {
		dst := &net.UDPAddr{IP: net.ParseIP(lab.WebAddr), Port: lab.WhoAmIPort}
		for i := range n {
			src := &net.UDPAddr{IP: net.ParseIP(lab.LANHost), Port: port + i}
			c, err := net.DialUDP("udp", src, dst)
			if err != nil {
				return err
			}
			c.Write([]byte("flow"))
			c.Close()
			if i%50 == 49 {
				time.Sleep(2 * time.Millisecond) // let wireguard-go drain its queue
			}
		}
		return nil
	})
}

// tunnelTx reads each edge tunnel's tx packets plus tx drops (drops were
// routed there too), shown beside the exact counts.
func tunnelTx(l *benchLab) (map[string]uint64, error) {
	h, err := l.nl()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	out := map[string]uint64{}
	for _, c := range lab.Carriers {
		link, err := h.LinkByName(l.EdgeTunnel(c))
		if err != nil {
			return nil, err
		}
		st := link.Attrs().Statistics
		out[c] = st.TxPackets + st.TxDropped
	}
	return out, nil
}

// flowCounters counts, in the edge's forward path, the bench's flows
// (LAN host → ul-web's UDP port) by the tunnel the FIB sent them to. The
// tunnels' own counters also carry BFD, BGP and the breakout feeds'
// downloads, which a sample of a few thousand packets cannot absorb.
func flowCounters(l *benchLab) string {
	var b strings.Builder
	b.WriteString("table inet ubench {\n")
	for _, c := range lab.Carriers {
		fmt.Fprintf(&b, "\tcounter %s {}\n", c)
	}
	b.WriteString("\tchain ub_fwd {\n\t\ttype filter hook forward priority -200; policy accept;\n")
	for _, c := range lab.Carriers {
		fmt.Fprintf(&b, "\t\tip saddr %s udp dport %d oifname %q counter name %q\n", lab.LANHost, lab.WhoAmIPort, l.EdgeTunnel(c), c)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// flowCounts reads the counters flowCounters made.
func flowCounts(l *benchLab) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, c := range lab.Carriers {
		b, err := exec.Command("ip", "netns", "exec", l.NS("home"), "nft", "list", "counter", "inet", "ubench", c).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("nft list counter %s: %v: %s", c, err, b)
		}
		f := strings.Fields(string(b))
		for i := range f {
			if f[i] == "packets" && i+1 < len(f) {
				var n uint64
				fmt.Sscan(f[i+1], &n)
				out[c] = n
			}
		}
	}
	return out, nil
}

// waitBalanced waits until every resilient group of the edge has its
// buckets spread by its members' weights (the kernel moves a bucket only
// after it was idle for the group's idle timer).
func waitBalanced(ctx context.Context, l *benchLab, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, ok := l.GroupBalance(); ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("resilient groups not balanced within %s", limit)
}
