package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/lab"
)

// benchLab is the lab of tag "b" (namespaces ulb-*) and what the rows need
// of it: an rtnetlink socket in the edge's namespace and the tunnels'
// interface indexes there.
type benchLab struct {
	*lab.Lab
	fib     *fib.Handle
	monitor *fib.Monitor   // route and nexthop notifications in the edge's namespace
	tunIdx  map[string]int // carrier → ifindex of its edge tunnel
}

var defaultRoute = netip.MustParsePrefix("0.0.0.0/0")

// labRows builds the lab (row 7 times it) and runs the rows that need it.
func labRows(ctx context.Context, o options, bin string) []row {
	l := &benchLab{Lab: lab.New(lab.Options{Tag: "b", Binary: bin})}
	addCleanup(func() { l.Down() })
	defer l.Down()
	defer keepLogs(l.Lab, o.keepLogs)
	cold, err := coldStart(ctx, l)
	if err != nil {
		return []row{failed("7", "cold start: lab up", err)}
	}
	rows := cold
	defer l.fib.Close()
	defer l.monitor.Close()
	want := func(part string) bool {
		return o.labRows == "all" || slices.Contains(strings.Split(o.labRows, ","), part)
	}
	if want("1") {
		rows = append(rows, failoverRows(ctx, l, o.n)...)
		rows = append(rows, birdRow(ctx, o.n))
	}
	if want("1slow") {
		rows = append(rows, slowFailoverRows(ctx, l, o.nSlow)...)
	}
	if want("2") {
		rows = append(rows, stabilityRow(ctx, l)...)
	}
	if want("3") {
		rows = append(rows, balanceRows(ctx, l)...)
	}
	// Memory before the data path: iperf3's buffers through the userspace
	// tunnel would raise the daemon's peak before the set arrives.
	if want("6") {
		rows = append(rows, memoryRows(ctx, l, o.pfx2as)...)
	}
	if want("8") {
		rows = append(rows, dataPathRow(ctx, l))
	}
	if want("11") {
		rows = append(rows, slaRow(ctx, l, clamp(o.n/3, 5, 10)), goodputRow(ctx, l, clamp(o.n/6, 5, 8)))
	}
	if want("12") {
		rows = append(rows, livenessRows(ctx, l, clamp(o.n/5, 10, 20))...)
	}
	if want("10") {
		rows = append(rows, publishRows(ctx, l, clamp(o.n, 20, 30))...)
	}
	if want("9") {
		rows = append(rows, hubRows(ctx, bin, clamp(o.n, 30, 40))...)
	}
	return rows
}

// openEdge opens the rtnetlink socket in ulb-home and learns the tunnels.
func (l *benchLab) openEdge() error {
	err := lab.InNS(l.NS("home"), func() error {
		var err error
		if l.fib, err = fib.Open(); err != nil {
			return err
		}
		l.monitor, err = fib.OpenMonitor()
		return err
	})
	if err != nil {
		return err
	}
	return l.learnTunnels()
}

func (l *benchLab) learnTunnels() error {
	h, err := l.nl()
	if err != nil {
		return err
	}
	defer h.Close()
	l.tunIdx = map[string]int{}
	for _, c := range lab.Carriers {
		link, err := h.LinkByName(l.EdgeTunnel(c))
		if err != nil {
			return fmt.Errorf("tunnel %s: %w", l.EdgeTunnel(c), err)
		}
		l.tunIdx[c] = link.Attrs().Index
	}
	return nil
}

func (l *benchLab) nl() (*netlink.Handle, error) {
	ns, err := netns.GetFromName(l.NS("home"))
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}

// defaultVia reads the edge's IPv4 default route: the carriers of its next
// hops with their weights, and its group (0: plain multipath).
func (l *benchLab) defaultVia() (map[string]int, uint32, error) {
	st, ok, err := l.fib.Multipath(254, config.RouteProtocol, defaultRoute)
	if err != nil || !ok {
		return nil, 0, err
	}
	out := map[string]int{}
	for _, nh := range st.Nexthops {
		for c, idx := range l.tunIdx {
			if nh.LinkIndex == idx {
				out[c] = nh.Weight
			}
		}
	}
	return out, st.GroupID, nil
}

func allThree(w ...int) func(map[string]int) bool {
	return func(via map[string]int) bool {
		if len(via) != len(lab.Carriers) {
			return false
		}
		for i, c := range lab.Carriers {
			if len(w) > 0 && via[c] != w[i] {
				return false
			}
		}
		return true
	}
}

func without(carrier string) func(map[string]int) bool {
	return func(via map[string]int) bool {
		_, has := via[carrier]
		return len(via) > 0 && !has
	}
}

// timedWriter notes when each of lab.Up's progress lines was written.
type timedWriter struct {
	mu    sync.Mutex
	at    map[string]time.Time
	onNew func(step string)
}

func (w *timedWriter) Write(p []byte) (int, error) {
	now := time.Now()
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		step := strings.TrimPrefix(line, "lab: ")
		w.mu.Lock()
		w.at[step] = now
		w.mu.Unlock()
		logf("lab: %s", step)
		if w.onNew != nil {
			w.onNew(step)
		}
	}
	return len(p), nil
}

func (w *timedWriter) when(step string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at[step]
}

// clamp keeps the rows other than the failover ones (which take -n as it
// is) to a count that fits the bench's time: n within lo..hi.
func clamp(n, lo, hi int) int { return min(max(n, lo), hi) }

// keepLogs copies the lab's daemon logs into dir, when one is given.
func keepLogs(l *lab.Lab, dir string) {
	if dir == "" {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(l.Dir, "*.log"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logf("keep logs: %v", err)
		return
	}
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
		}
		if err != nil {
			logf("keep logs: %v", err)
		}
	}
}
