package ecmp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/fib"
)

// TestRestartGrace: the adopted default stays while BGP carries nothing;
// once BGP carries it, BGP's next hops win and the adopted ones are
// forgotten (a later loss of the route is a loss); a prefix BGP never
// brings back goes when the grace ends.
func TestRestartGrace(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	def, lan := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("198.18.250.0/24")
	old := []fib.WeightedNexthop{{LinkIndex: 3, Weight: 1}, {LinkIndex: 4, Weight: 1}}
	g := newGrace(map[netip.Prefix][]fib.WeightedNexthop{def: old, lan: old}, t0)

	want := map[netip.Prefix][]fib.WeightedNexthop{}
	if kept, ended := g.apply(want, t0.Add(time.Second)); kept != 2 || ended || len(want[def]) != 2 {
		t.Fatalf("no session yet: kept %d, ended %v, want %v; want both adopted routes kept", kept, ended, want)
	}
	fresh := []fib.WeightedNexthop{{LinkIndex: 3, Weight: 1}}
	want = map[netip.Prefix][]fib.WeightedNexthop{def: fresh}
	if kept, _ := g.apply(want, t0.Add(2*time.Second)); kept != 1 || len(want[def]) != 1 {
		t.Fatalf("default learned again: kept %d, default %v; want BGP's one next hop, the other prefix kept", kept, want[def])
	}
	want = map[netip.Prefix][]fib.WeightedNexthop{}
	if g.apply(want, t0.Add(3*time.Second)); want[def] != nil {
		t.Errorf("the default came back from the grace after BGP had carried it: %v", want[def])
	}
	if got := g.next(); !got.Equal(t0.Add(RestartGrace)) {
		t.Errorf("next %v, want the grace's end", got)
	}
	want = map[netip.Prefix][]fib.WeightedNexthop{}
	if kept, ended := g.apply(want, t0.Add(RestartGrace)); kept != 0 || !ended || len(want) != 0 {
		t.Errorf("at the grace's end: kept %d, ended %v, want %v; want nothing kept", kept, ended, want)
	}
	if !g.next().IsZero() {
		t.Error("a grace after its end")
	}
	if g := newGrace(nil, t0); !g.next().IsZero() {
		t.Error("a grace with nothing adopted")
	}
}
