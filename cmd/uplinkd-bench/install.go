package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go4.org/netipx"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// benchTable holds the install rows' routes in their own namespaces.
const benchTable = 100

// installRows: row 4, the 998 k real prefixes (raw and aggregated) into a
// table, uplinkd's batched rtnetlink against `ip -batch`, each in a fresh
// namespace, in the same run.
func installRows(ctx context.Context, o options) []row {
	ps, err := loadPrefixes(o.pfx2as)
	if err != nil {
		return []row{failed("4", "install: load the RouteViews table", err)}
	}
	logf("%d prefixes loaded", len(ps))
	var rows []row
	agg, aggRow := aggregateRow(ps)
	rows = append(rows, installPair(ctx, "raw", ps, true)...)
	rows = append(rows, installPair(ctx, "aggregated", agg, false)...)
	return append(rows, aggRow)
}

// loadPrefixes reads the pfx2as table through the breakout feed parser and
// returns its distinct prefixes, sorted.
func loadPrefixes(path string) ([]netip.Prefix, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	es, err := feed.ParsePfx2as(body, nil)
	if err != nil {
		return nil, err
	}
	ps := breakout.SortPrefixes(breakout.Prefixes(es))
	out := ps[:0]
	for i, p := range ps {
		if i == 0 || p != ps[i-1] {
			out = append(out, p)
		}
	}
	return out, nil
}

// aggregateRow times breakout.Aggregate against netipx's IPSet, which
// gives the same result.
func aggregateRow(ps []netip.Prefix) ([]netip.Prefix, row) {
	t0 := time.Now()
	agg := breakout.Aggregate(ps)
	ours := time.Since(t0)
	t0 = time.Now()
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p)
	}
	set, err := b.IPSet()
	var peerN int
	if err == nil {
		peerN = len(set.Prefixes())
	}
	peer := time.Since(t0)
	r := row{id: "4f", name: fmt.Sprintf("aggregate %d → %d prefixes (peer: netipx.IPSetBuilder)", len(ps), len(agg)),
		uplinkd: ms(ours), peer: ms(peer),
		ratio: fmt.Sprintf("%.2f; goal ≤ 1 s", ours.Seconds()/peer.Seconds()), verdict: verdict(ours <= time.Second)}
	if err != nil || peerN != len(agg) {
		r.err = fmt.Errorf("netipx gives %d prefixes (%v), Aggregate %d", peerN, err, len(agg))
	}
	return agg, r
}

// installPair installs, (churns,) and deletes one set in two fresh
// namespaces: one through fib, one through ip -batch.
func installPair(ctx context.Context, label string, ps []netip.Prefix, churn bool) []row {
	id := map[string]string{"raw": "4a", "aggregated": "4c"}[label]
	name := fmt.Sprintf("install %d %s prefixes (peer: ip -batch)", len(ps), label)
	nsU, err := newBenchNS("fib-" + label[:3])
	if err != nil {
		return []row{failed(id, name, err)}
	}
	defer nsU.close()
	nsP, err := newBenchNS("ip-" + label[:3])
	if err != nil {
		return []row{failed(id, name, err)}
	}
	defer nsP.close()
	h, err := nsU.handle()
	if err != nil {
		return []row{failed(id, name, err)}
	}
	defer h.Close()
	nh := fib.Nexthop{Gateway: netip.MustParseAddr(nsU.gw), LinkIndex: nsU.link}
	// As the breakout engine installs a set: every route on the nexthop
	// object of its family (the peer's lines carry the gateway and device).
	set := fib.ViaSet{Prefixes: ps, Nexthop4: nh, Objects: true}
	dir, err := os.MkdirTemp("", "uplinkd-bench-batch")
	if err != nil {
		return []row{failed(id, name, err)}
	}
	defer os.RemoveAll(dir)

	var rows []row
	// Install.
	logf("install %s: fib Sync of %d routes", label, len(ps))
	t0 := time.Now()
	st, err := h.SyncSet(benchTable, config.RouteProtocol, set)
	ours := time.Since(t0)
	if err == nil && st.Added != len(ps) {
		err = fmt.Errorf("Sync added %d of %d", st.Added, len(ps))
	}
	logf("install %s: ip -batch", label)
	peer, perr := ipBatch(ctx, nsP, filepath.Join(dir, "add"), addLines(ps, nsP))
	installed := timed{ours: ours, ipBatch: peer, n: len(ps)}
	rows = append(rows, pairRow(id, name, ours, peer, errors.Join(err, perr), 0.1))
	if err != nil || perr != nil {
		return rows
	}
	if n, err := countRoutes(nsP); err != nil || n != len(ps) {
		rows[len(rows)-1].err = fmt.Errorf("ip -batch left %d routes (%v), want %d", n, err, len(ps))
	}

	final := ps
	if churn {
		var r row
		r, final = churnRow(ctx, h, nsU, nsP, dir, ps)
		rows = append(rows, r)
	}

	// Delete.
	did := map[string]string{"raw": "4b", "aggregated": "4d"}[label]
	dname := fmt.Sprintf("delete %d %s prefixes (peer: ip -batch route del)", len(final), label)
	logf("delete %s: fib Sync to empty", label)
	t0 = time.Now()
	st, err = h.SyncSet(benchTable, config.RouteProtocol, fib.ViaSet{Objects: true})
	ours = time.Since(t0)
	if err == nil && st.Deleted != len(final) {
		err = fmt.Errorf("Sync deleted %d of %d", st.Deleted, len(final))
	}
	logf("delete %s: ip -batch", label)
	peer, perr = ipBatch(ctx, nsP, filepath.Join(dir, "del"), delLines(final))
	if perr == nil {
		if n, err := countRoutes(nsP); err != nil || n != 0 {
			perr = fmt.Errorf("ip -batch route del left %d routes (%v)", n, err)
		}
	}
	rows = append(rows, pairRow(did, dname, ours, peer, errors.Join(err, perr), 0.2))
	deleted := timed{ours: ours, ipBatch: peer, n: len(final)}
	// Last: a namespace torn down (the floor's, should its delete fail,
	// with its routes) keeps the kernel's cleanup busy for a while, which
	// must not fall in a timed step of the others.
	return append(rows, floorRows(label, set, installed, deleted)...)
}

// floorRows sends the same routes to a third fresh namespace as batched
// netlink messages built before the clock starts, with no read-back and no
// diff: what the kernel itself costs. Then it deletes them the same way.
// It reports uplinkd's Sync against each, and the floor against ip -batch
// (installed and deleted: both timed in this run; the delete after the
// churn for the raw set); the namespace must hold every route after the
// install and none after the delete, or the row fails.
func floorRows(label string, set fib.ViaSet, installed, deleted timed) []row {
	id := map[string]string{"raw": "4g", "aggregated": "4h"}[label]
	did := map[string]string{"raw": "4i", "aggregated": "4j"}[label]
	name := fmt.Sprintf("install %d %s prefixes: uplinkd's Sync against the floor (the same routes, on the same nexthop object, as pre-built batched netlink, no read-back, no diff)", set.Len(), label)
	dname := fmt.Sprintf("delete %d %s prefixes: uplinkd's Sync (of %d) against the floor (pre-built batched RTM_DELROUTE, no read-back, no diff)", set.Len(), label, deleted.n)
	ns, err := newBenchNS("fl-" + label[:3])
	if err != nil {
		return []row{failed(id, name, err)}
	}
	defer ns.close()
	h, err := ns.handle()
	if err != nil {
		return []row{failed(id, name, err)}
	}
	defer h.Close()
	set.Nexthop4 = fib.Nexthop{Gateway: netip.MustParseAddr(ns.gw), LinkIndex: ns.link} // this namespace's link
	add := h.PrebuildVia(benchTable, config.RouteProtocol, set)
	logf("install %s: the floor", label)
	floor, err := sendPrebuilt(h, ns, add, set.Len())
	r := floorRow(id, name, installed, floor, err)
	if err != nil {
		return []row{r, failed(did, dname, errors.New("the floor's install failed"))}
	}

	del := h.PrebuildDeletes(benchTable, config.RouteProtocol, fib.Via(set.Prefixes, set.Nexthop4))
	logf("delete %s: the floor", label)
	floor, err = sendPrebuilt(h, ns, del, 0)
	return []row{r, floorRow(did, dname, deleted, floor, err)}
}

// sendPrebuilt times the send of p and then checks that the namespace
// holds want routes: a floor that silently did nothing fails.
func sendPrebuilt(h *fib.Handle, ns *benchNS, p *fib.Prebuilt, want int) (time.Duration, error) {
	t0 := time.Now()
	err := h.SendPrebuilt(p)
	took := time.Since(t0)
	if err != nil {
		return took, err
	}
	if n, err := countRoutes(ns); err != nil || n != want {
		return took, fmt.Errorf("the floor left %d routes (%v), want %d", n, err, want)
	}
	return took, nil
}

// timed is one step of a set as timed in the pair's namespaces: uplinkd's
// Sync and ip -batch, of n routes.
type timed struct {
	ours, ipBatch time.Duration
	n             int
}

// floorRow is uplinkd's time against the floor's: no goal, the ratio is
// what uplinkd's read-back, diff and building cost. The floor's own ratio
// to ip -batch says how far below ip -batch any installer can go.
func floorRow(id, name string, t timed, floor time.Duration, err error) row {
	return row{id: id, name: name, uplinkd: ms(t.ours), peer: "floor " + ms(floor),
		ratio: fmt.Sprintf("%.2f× the floor (no goal: what uplinkd's read-back, diff and building cost); the floor is %.3f× ip -batch",
			t.ours.Seconds()/floor.Seconds(), floor.Seconds()/t.ipBatch.Seconds()),
		verdict: "info", err: err}
}

// churnRow: 1 % of the prefixes each give way to their first half (a
// more-specific, as a provider splitting a block); the update is the diff
// only: AddRoutes and DeleteRoutes of it, against ip -batch of the same
// lines. Three churns, forward, back and forward again (the table ends
// split), each side's median taken: one churn is ~10 k writes a side, and
// a single sample moved 2.4× between two full runs with no change to it.
func churnRow(ctx context.Context, h *fib.Handle, nsU, nsP *benchNS, dir string, ps []netip.Prefix) (row, []netip.Prefix) {
	next := make([]netip.Prefix, 0, len(ps))
	for i, p := range ps {
		if i%100 == 50 && p.Bits() < 32 {
			p = netip.PrefixFrom(p.Addr(), p.Bits()+1)
		}
		next = append(next, p)
	}
	nh := fib.Nexthop{Gateway: netip.MustParseAddr(nsU.gw), LinkIndex: nsU.link}
	nh.Object, _, _ = fib.ViaObjectIDs(benchTable) // the install made it
	var ours, peer, diffs []time.Duration
	var nAdd, nDel int
	var errs []error
	for i, step := range [][2][]netip.Prefix{{ps, next}, {next, ps}, {ps, next}} {
		t0 := time.Now()
		add, del := breakout.Diff(step[0], step[1])
		diffs = append(diffs, time.Since(t0))
		err := h.AddRoutes(benchTable, config.RouteProtocol, fib.Via(add, nh))
		if err == nil {
			err = h.DeleteRoutes(benchTable, config.RouteProtocol, fib.Via(del, nh))
		}
		ours = append(ours, time.Since(t0))
		took, perr := ipBatch(ctx, nsP, filepath.Join(dir, fmt.Sprintf("churn%d", i)), addLines(add, nsP)+delLines(del))
		peer = append(peer, took)
		errs = append(errs, err, perr)
		nAdd, nDel = len(add), len(del)
	}
	o, pe := median(ours), median(peer)
	name := fmt.Sprintf("1%% churn: +%d −%d, median of 3 (forward, back, forward; Diff %s + AddRoutes/DeleteRoutes; peer: ip -batch)", nAdd, nDel, ms(median(diffs)))
	r := row{id: "4e", name: name, uplinkd: fmt.Sprintf("%s (%s)", ms(o), msList(ours)), peer: fmt.Sprintf("%s (%s)", ms(pe), msList(peer)),
		ratio:   fmt.Sprintf("%.3f; goal ≤ 200 ms", o.Seconds()/pe.Seconds()),
		verdict: verdict(o <= 200*time.Millisecond), err: errors.Join(errs...)}
	return r, breakout.SortPrefixes(next)
}

func pairRow(id, name string, ours, peer time.Duration, err error, goal float64) row {
	ratio := ours.Seconds() / peer.Seconds()
	return row{id: id, name: name, uplinkd: ms(ours), peer: ms(peer),
		ratio: fmt.Sprintf("%.3f; goal ≤ %.1f", ratio, goal), verdict: verdict(ratio <= goal), err: err}
}

func addLines(ps []netip.Prefix, ns *benchNS) string {
	var b strings.Builder
	b.Grow(len(ps) * 64)
	for _, p := range ps {
		fmt.Fprintf(&b, "route add %s via %s dev %s table %d proto %d\n", p, ns.gw, ns.dev, benchTable, config.RouteProtocol)
	}
	return b.String()
}

func delLines(ps []netip.Prefix) string {
	var b strings.Builder
	b.Grow(len(ps) * 40)
	for _, p := range ps {
		fmt.Fprintf(&b, "route del %s table %d proto %d\n", p, benchTable, config.RouteProtocol)
	}
	return b.String()
}

// ipBatch writes lines to a file and times `ip -n NS -batch FILE`.
func ipBatch(ctx context.Context, ns *benchNS, file, lines string) (time.Duration, error) {
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		return 0, err
	}
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "ip", "-n", ns.name, "-batch", file).CombinedOutput()
	took := time.Since(t0)
	if err != nil {
		return took, fmt.Errorf("ip -batch: %v: %.200s", err, out)
	}
	return took, nil
}

// countRoutes counts the routes of the bench's table in a namespace.
func countRoutes(ns *benchNS) (int, error) {
	h, err := ns.handle()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	rs, err := h.Dump(benchTable, config.RouteProtocol)
	return len(rs), err
}

func ifindex(name string) (int, error) {
	i, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return i.Index, nil
}
