package fib

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSweep: everything of ours goes, everything else stays.
func TestSweep(t *testing.T) {
	ns := newNS(t, 3)
	ps := realLooking(1000, 500)
	for _, table := range []uint32{100, 200, 300} {
		if _, err := ns.h.Sync(table, testProto, viaFamily(ps, 0)); err != nil {
			t.Fatal(err)
		}
	}
	plain := Multipath{Table: 200, Protocol: testProto, Prefix: netip.MustParsePrefix("0.0.0.0/0"), Nexthops: ns.weighted(false, []int{0, 1}, []int{1, 1})}
	if err := ns.h.SetMultipath(plain); err != nil {
		t.Fatal(err)
	}
	res := Multipath{Table: 100, Protocol: testProto, Prefix: netip.MustParsePrefix("::/0"), Nexthops: ns.weighted(true, []int{0, 1, 2}, []int{1, 1, 1})}
	if err := ns.h.SetResilient(res, testIDs, Resilient{GroupID: testIDs.First}); err != nil {
		t.Fatal(err)
	}
	// Not ours: another protocol's route, a nexthop outside the range, and
	// one inside the range but of another protocol.
	ns.ip(t, "route", "add", "198.51.100.0/24", "via", "10.211.0.2", "table", "100", "proto", "static")
	ns.ip(t, "nexthop", "add", "id", "5", "via", "10.211.0.2", "dev", "up0")
	ns.ip(t, "nexthop", "add", "id", "2110500", "via", "10.211.1.2", "dev", "up1", "proto", "static")

	st, err := ns.h.Sweep([]uint32{100, 200}, testProto, testIDs)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	want := SweepStats{Routes: 2*len(ps) + 2, Nexthops: 4}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Sweep stats (-want +got):\n%s", diff)
	}
	for _, table := range []string{"100", "200"} {
		for _, fam := range []string{"-4", "-6"} {
			if out := strings.TrimSpace(ns.ip(t, fam, "route", "show", "table", table, "proto", "211")); out != "" {
				t.Errorf("table %s %s still has routes of proto 211:\n%.300s", table, fam, out)
			}
		}
	}
	if out := ns.ip(t, "route", "show", "table", "100"); !strings.Contains(out, "198.51.100.0/24 via 10.211.0.2 dev up0 proto static") {
		t.Errorf("the static route was swept:\n%s", out)
	}
	if n := lines(ns.ip(t, "-4", "route", "show", "table", "300", "proto", "211")); n != 1000 {
		t.Errorf("table 300 (not swept): %d routes, want 1000", n)
	}
	got := ns.ip(t, "nexthop", "show")
	if lines(got) != 2 || !strings.Contains(got, "id 5 ") || !strings.Contains(got, "id 2110500 ") {
		t.Errorf("ip nexthop show after sweep: want only ids 5 and 2110500:\n%s", got)
	}
}
