package fibtest

import (
	"net/netip"
	"testing"

	"github.com/uplinkd/uplinkd/internal/fib"
)

func TestFakeSyncIdempotent(t *testing.T) {
	f := New()
	gw := fib.Nexthop{Gateway: netip.MustParseAddr("10.0.0.1")}
	set := fib.Via([]netip.Prefix{netip.MustParsePrefix("3.0.0.0/15"), netip.MustParsePrefix("2600:1f00::/24")}, gw)
	if st, err := f.Sync(100, 211, set); err != nil || st != (fib.SyncStats{Added: 2}) {
		t.Fatalf("first Sync: %+v %v", st, err)
	}
	if st, err := f.Sync(100, 211, set); err != nil || st != (fib.SyncStats{Unchanged: 2}) {
		t.Fatalf("second Sync: %+v %v, want 2 unchanged", st, err)
	}
	if st, _ := f.Sync(100, 211, set[:1]); st != (fib.SyncStats{Deleted: 1, Unchanged: 1}) {
		t.Fatalf("shrink: %+v", st)
	}
	if f.Calls != 2 {
		t.Errorf("Calls = %d, want 2 (the no-op Sync changed nothing)", f.Calls)
	}
}

// TestFakeMultipathLikeTheKernel: a multipath route goes by prefix
// (DeleteRoutes), SetMultipath skips a route already held where
// ReplaceMultipath writes, and Sweep takes only proto's routes of the
// tables named, counting the groups in ids.
func TestFakeMultipathLikeTheKernel(t *testing.T) {
	f := New()
	ids := fib.IDRange{First: 100, Last: 199}
	nhs := []fib.WeightedNexthop{{LinkIndex: 3, Weight: 1}}
	mp := func(table uint32, proto uint8, p string) fib.Multipath {
		return fib.Multipath{Table: table, Protocol: proto, Prefix: netip.MustParsePrefix(p), Nexthops: nhs}
	}
	for _, err := range []error{
		f.SetResilient(mp(254, 211, "0.0.0.0/0"), ids, fib.Resilient{GroupID: 100}),
		f.SetMultipath(mp(254, 211, "198.51.100.0/24")),
		f.SetMultipath(mp(254, 211, "198.51.100.0/24")),
		f.ReplaceMultipath(mp(6201, 211, "0.0.0.0/0")),
		f.ReplaceMultipath(mp(6201, 211, "0.0.0.0/0")),
		f.SetMultipath(mp(254, 4, "203.0.113.0/24")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(f.Written) != 5 {
		t.Errorf("writes %d, want 5 (the second SetMultipath skipped, the second replace written)", len(f.Written))
	}
	if err := f.DeleteRoutes(254, 211, []fib.Route{{Prefix: netip.MustParsePrefix("198.51.100.0/24")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Multipaths(254, 211); len(got) != 1 || got[0].GroupID != 100 {
		t.Errorf("after the delete: %+v, want the group's route alone", got)
	}
	st, err := f.Sweep([]uint32{254, 6201}, 211, ids)
	if err != nil || st != (fib.SweepStats{Routes: 2, Nexthops: 1}) {
		t.Errorf("Sweep: %+v %v, want 2 routes and 1 group", st, err)
	}
	if got, _ := f.Multipaths(254, 4); len(got) != 1 {
		t.Errorf("another protocol's route swept: %+v", got)
	}
}
