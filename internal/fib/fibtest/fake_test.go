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
