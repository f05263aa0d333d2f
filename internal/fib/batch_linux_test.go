package fib

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// cgn is the carriers' space in the lab: keep test prefixes out of it.
var cgn = netip.MustParsePrefix("100.64.0.0/10")

const (
	testProto = 211
	testTable = 100
)

// realLooking returns n distinct public-looking IPv4 /24../16 prefixes and
// m IPv6 /32../48 prefixes under 2a00::/8, the same every run.
func realLooking(n, m int) []netip.Prefix {
	r := rand.New(rand.NewPCG(211, 7))
	seen := make(map[netip.Prefix]bool, n+m)
	out := make([]netip.Prefix, 0, n+m)
	for len(out) < n {
		a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(222)), byte(r.IntN(256)), byte(r.IntN(256)), 0})
		if a.IsPrivate() || a.IsLoopback() || cgn.Contains(a) {
			continue
		}
		p := netip.PrefixFrom(a, 16+r.IntN(9)).Masked()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for len(out) < n+m {
		var b [16]byte
		b[0], b[1], b[2], b[3], b[4], b[5] = 0x2a, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))
		p := netip.PrefixFrom(netip.AddrFrom16(b), 32+r.IntN(17)).Masked()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// viaFamily routes IPv4 prefixes via gw4(0) and IPv6 ones via gw6(0).
func viaFamily(ps []netip.Prefix, link int) []Route {
	rs := make([]Route, len(ps))
	for i, p := range ps {
		gw := gw4(0)
		if p.Addr().Is6() {
			gw = gw6(0)
		}
		rs[i] = Route{Prefix: p, Nexthop: Nexthop{Gateway: gw, LinkIndex: link}}
	}
	return rs
}

func sortedPrefixes(rs []Route) []netip.Prefix {
	ps := make([]netip.Prefix, len(rs))
	for i, r := range rs {
		ps[i] = r.Prefix
	}
	slices.SortFunc(ps, comparePrefix)
	return ps
}

func TestAddDumpDelete(t *testing.T) {
	ns := newNS(t, 1)
	for _, table := range []uint32{testTable, 1000} { // 1000: only in RTA_TABLE
		t.Run(fmt.Sprint("table", table), func(t *testing.T) {
			ps := realLooking(2000, 1000)
			routes := viaFamily(ps[:2500], ns.links[0])
			for _, p := range ps[2500:] {
				routes = append(routes, Route{Prefix: p, Nexthop: Nexthop{Blackhole: true}})
			}
			if err := ns.h.AddRoutes(table, testProto, routes); err != nil {
				t.Fatalf("AddRoutes: %v", err)
			}
			got, err := ns.h.Dump(table, testProto)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sortedPrefixes(routes), sortedPrefixes(got), netipEq); diff != "" {
				t.Errorf("dumped prefixes (-want +got):\n%s", diff)
			}
			tbl := fmt.Sprint(table)
			if n := lines(ns.ip(t, "-4", "route", "show", "table", tbl, "proto", "211")) + lines(ns.ip(t, "-6", "route", "show", "table", tbl, "proto", "211")); n != len(routes) {
				t.Errorf("ip route show table %s proto 211: %d routes, want %d", tbl, n, len(routes))
			}
			if err := ns.h.DeleteRoutes(table, testProto, routes); err != nil {
				t.Fatalf("DeleteRoutes: %v", err)
			}
			if err := ns.h.DeleteRoutes(table, testProto, routes); err != nil {
				t.Errorf("DeleteRoutes again (must be idempotent): %v", err)
			}
			if out := ns.ip(t, "route", "show", "table", tbl); strings.TrimSpace(out) != "" {
				t.Errorf("after delete, table %s still has:\n%s", tbl, out)
			}
		})
	}
}

// TestAddRoutesReportsFailures: a gateway that is not on-link fails those
// routes with ENETUNREACH, named by prefix; the good ones still land.
func TestAddRoutesReportsFailures(t *testing.T) {
	ns := newNS(t, 1)
	ps := realLooking(1000, 0)
	routes := viaFamily(ps, 0)
	for i := 100; i < 110; i++ {
		routes[i].Nexthop = Nexthop{Gateway: netip.MustParseAddr("10.99.0.1")}
	}
	err := ns.h.AddRoutes(testTable, testProto, routes)
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("AddRoutes with 10 unreachable gateways: got %v, want a *BatchError", err)
	}
	if be.Failed != 10 || be.Total != 1000 || len(be.First) != maxReported {
		t.Errorf("BatchError: failed %d of %d, %d listed; want 10 of 1000, %d listed", be.Failed, be.Total, len(be.First), maxReported)
	}
	if !errors.Is(err, unix.ENETUNREACH) {
		t.Errorf("error %v: want ENETUNREACH", err)
	}
	if !strings.Contains(err.Error(), routes[100].Prefix.String()) {
		t.Errorf("error %q does not name the first failed prefix %s", err, routes[100].Prefix)
	}
	t.Logf("error as users see it: %v", err)
	got, _ := ns.h.Dump(testTable, testProto)
	if len(got) != 990 {
		t.Errorf("after partial failure: %d routes installed, want 990", len(got))
	}
}

// TestSyncIdempotent: a second Sync of 110,000 routes changes nothing the
// kernel sees; churn changes only what moved. With -short (the race run,
// and the kernel VM, where TCG takes a minute for the full size) a fifth
// of it.
func TestSyncIdempotent(t *testing.T) {
	ns := newNS(t, 2)
	n4, n6 := 100_000, 10_000
	if testing.Short() {
		n4, n6 = 20_000, 2_000
	}
	ps := realLooking(n4, n6)
	desired := viaFamily(ps, ns.links[0])
	st, err := ns.h.Sync(testTable, testProto, desired)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if diff := cmp.Diff(SyncStats{Added: len(desired)}, st, netipEq); diff != "" {
		t.Errorf("first Sync stats (-want +got):\n%s", diff)
	}
	if got4, got6 := ns.tableRoutes(t, "-4"), ns.tableRoutes(t, "-6"); got4 != n4 || got6 != n6 {
		t.Errorf("ip route show table 100 proto 211: %d IPv4 + %d IPv6, want %d + %d", got4, got6, n4, n6)
	}

	mon := ns.watch(t)
	st, err = ns.h.Sync(testTable, testProto, desired)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if n := mon.changes(t); n != 0 {
		t.Errorf("second Sync: the kernel saw %d route changes, want 0", n)
	}
	if diff := cmp.Diff(SyncStats{Unchanged: len(desired)}, st, netipEq); diff != "" {
		t.Errorf("second Sync must change nothing (-want +got):\n%s", diff)
	}

	// Churn: drop 1000, move 1000 IPv4 and 100 IPv6 routes to the second
	// uplink, add 1000 new.
	extra := realLooking(n4+11_000, 0)[n4:]
	next := slices.Clone(desired[1000:])
	for i := range 1000 {
		next[i].Nexthop = Nexthop{Gateway: gw4(1), LinkIndex: ns.links[1]}
		if next[i].Prefix.Addr().Is6() {
			t.Fatal("test setup: expected IPv4 prefixes first")
		}
	}
	for i := len(next) - 100; i < len(next); i++ {
		next[i].Nexthop = Nexthop{Gateway: gw6(1), LinkIndex: ns.links[1]}
	}
	next = append(next, viaFamily(filterNew(extra, ps, 1000), ns.links[0])...)
	st, err = ns.h.Sync(testTable, testProto, next)
	if err != nil {
		t.Fatalf("churn Sync: %v", err)
	}
	want := SyncStats{Added: 1000, Replaced: 1100, Deleted: 1000, Unchanged: len(desired) - 2100}
	if diff := cmp.Diff(want, st, netipEq); diff != "" {
		t.Errorf("churn Sync stats (-want +got):\n%s", diff)
	}
	got, _ := ns.h.Dump(testTable, testProto)
	if diff := cmp.Diff(sortedPrefixes(next), sortedPrefixes(got), netipEq); diff != "" {
		t.Errorf("after churn (-want +got):\n%s", diff)
	}
	if n := lines(ns.ip(t, "-6", "route", "show", "table", "100", "proto", "211", "dev", "up1")); n != 100 {
		t.Errorf("IPv6 routes via up1 after churn: %d, want 100", n)
	}
	if st, err := ns.h.Sync(testTable, testProto, next); err != nil || st != (SyncStats{Unchanged: len(next)}) {
		t.Errorf("Sync after churn, again: %+v %v; want all unchanged", st, err)
	}
}

// tableRoutes counts the test table's routes of a family ("-4", "-6"), as
// ip sees them.
func (ns *testNS) tableRoutes(t *testing.T, family string) int {
	return lines(ns.ip(t, family, "route", "show", "table", "100", "proto", "211"))
}

// filterNew returns the first n prefixes of cand not in have.
func filterNew(cand, have []netip.Prefix, n int) []netip.Prefix {
	set := make(map[netip.Prefix]bool, len(have))
	for _, p := range have {
		set[p] = true
	}
	var out []netip.Prefix
	for _, p := range cand {
		if !set[p] && len(out) < n {
			out = append(out, p)
		}
	}
	return out
}

// TestSyncRefusesBadInput: nothing is touched when the set is invalid.
func TestSyncRefusesBadInput(t *testing.T) {
	ns := newNS(t, 1)
	good := viaFamily(realLooking(100, 0), 0)
	if _, err := ns.h.Sync(testTable, testProto, good); err != nil {
		t.Fatal(err)
	}
	bad := append(viaFamily(realLooking(200, 0)[100:], 0), good[0])
	bad = append(bad, Route{Prefix: good[0].Prefix, Nexthop: Nexthop{Blackhole: true}})
	if st, err := ns.h.Sync(testTable, testProto, bad); err == nil || st != (SyncStats{}) {
		t.Errorf("Sync with a prefix given two nexthops: %+v, %v; want an error and no change", st, err)
	}
	got, _ := ns.h.Dump(testTable, testProto)
	if diff := cmp.Diff(sortedPrefixes(good), sortedPrefixes(got), netipEq); diff != "" {
		t.Errorf("table changed after refused Sync (-want +got):\n%s", diff)
	}
}

// TestEveryFailureCounted: when every message of many chunks fails, no
// error report is lost (the receive buffer holds a whole chunk's worth).
func TestEveryFailureCounted(t *testing.T) {
	ns := newNS(t, 0)
	routes := Via(realLooking(30_000, 0), Nexthop{Gateway: netip.MustParseAddr("10.99.0.1")})
	err := ns.h.AddRoutes(testTable, testProto, routes)
	var be *BatchError
	if !errors.As(err, &be) || be.Failed != len(routes) {
		t.Fatalf("AddRoutes of %d routes via an unreachable gateway: %v; want all %d counted", len(routes), err, len(routes))
	}
}

// TestIPv4ViaIPv6: an IPv4 prefix through an IPv6 gateway (RTA_VIA), as over
// a tunnel with only IPv6 addresses inside, reads back the same.
func TestIPv4ViaIPv6(t *testing.T) {
	ns := newNS(t, 1)
	want := []Route{{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Nexthop: Nexthop{Gateway: gw6(0), LinkIndex: ns.links[0]}}}
	if st, err := ns.h.Sync(testTable, testProto, want); err != nil || st.Added != 1 {
		t.Fatalf("Sync: %+v %v", st, err)
	}
	if out := ns.ip(t, "route", "show", "table", "100"); !strings.Contains(out, "198.51.100.0/24 via inet6 "+gw6(0).String()+" dev up0 proto 211") {
		t.Errorf("ip route show table 100:\n%s", out)
	}
	if st, err := ns.h.Sync(testTable, testProto, want); err != nil || st != (SyncStats{Unchanged: 1}) {
		t.Errorf("second Sync: %+v %v, want 1 unchanged", st, err)
	}
}

// TestSyncMemory: a Sync into a table that already holds routes (the
// breakout table beside the lab's own, a refresh) keeps positions of what
// it changes, not copies of the routes: 72 bytes a route, 11 MB for the
// whole RouteViews table aggregated, 72 MB unaggregated. A ViaSet does
// the same without the caller's slice of routes.
func TestSyncMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the allocations are Go's, the same on any kernel; make test measures them")
	}
	ns := newNS(t, 1)
	ps := realLooking(100_000, 10_000)
	slices.SortFunc(ps, comparePrefix)
	desired := viaFamily(ps, ns.links[0])
	// Two tables, each holding 10 routes first: a dump is sized like the
	// table's last one. A whole Sync into a third grows the Handle's
	// message buffer to its size first (once for the Handle's life).
	for _, table := range []uint32{testTable, testTable + 1} {
		if _, err := ns.h.Sync(table, testProto, desired[:10]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ns.h.Sync(testTable+2, testProto, desired); err != nil {
		t.Fatal(err)
	}
	perRoute := func(sync func() (SyncStats, error)) float64 {
		t.Helper()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		st, err := sync()
		runtime.ReadMemStats(&after)
		if err != nil || st.Added != len(desired)-10 {
			t.Fatalf("Sync: %+v, %v; want %d added", st, err, len(desired)-10)
		}
		return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(desired))
	}
	routes := perRoute(func() (SyncStats, error) { return ns.h.Sync(testTable, testProto, desired) })
	v := ViaSet{Prefixes: ps, Nexthop4: desired[0].Nexthop, Nexthop6: desired[len(desired)-1].Nexthop}
	via := perRoute(func() (SyncStats, error) { return ns.h.SyncSet(testTable+1, testProto, v) })
	t.Logf("Sync of %d routes into a table of 10: %.1f bytes allocated a route ([]Route), %.1f (ViaSet)", len(desired), routes, via)
	if routes > 16 || via > 16 {
		t.Errorf("Sync allocated %.1f ([]Route) and %.1f (ViaSet) bytes a route, want ≤ 16: a copy of the routes to add is 72", routes, via)
	}
	if n := lines(ns.ip(t, "-6", "route", "show", "table", "101", "proto", "211")); n != 10_000 {
		t.Errorf("IPv6 routes after the ViaSet's Sync: %d, want 10000", n)
	}
}

// TestDumpSizedAfterShrink: after a Sync that shrinks a table from 50,000
// routes to 10, the next dump allocates for about 10, not 50,000 (3.6 MB
// here; 72 MB after the raw RouteViews table gives way to a small set).
func TestDumpSizedAfterShrink(t *testing.T) {
	ns := newNS(t, 1)
	ps := realLooking(50_000, 0)
	slices.SortFunc(ps, comparePrefix)
	desired := viaFamily(ps, ns.links[0])
	if st, err := ns.h.Sync(testTable, testProto, desired); err != nil || st.Added != len(desired) {
		t.Fatalf("Sync: %+v %v", st, err)
	}
	if st, err := ns.h.Sync(testTable, testProto, desired[:10]); err != nil || st.Deleted != len(desired)-10 {
		t.Fatalf("shrinking Sync: %+v %v", st, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := ns.h.Dump(testTable, testProto)
	runtime.ReadMemStats(&after)
	if err != nil || len(got) != 10 {
		t.Fatalf("Dump: %d routes, %v; want 10", len(got), err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
		t.Errorf("Dump of 10 routes allocated %d bytes, want ≤ 64 KiB: sized by the table before the shrink?", alloc)
	}
}
