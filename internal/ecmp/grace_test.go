package ecmp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/fib"
)

// TestRestartGrace: the adopted default stays while BGP carries nothing;
// once BGP carries it through one tunnel, the other tunnels' adopted next
// hops stay beside BGP's until BGP carries it through them too, so the
// loss of the first tunnel meanwhile leaves the default through the
// others; a dead tunnel's adopted next hop is left out while it is dead;
// a next hop BGP never brings back goes when the grace ends.
func TestRestartGrace(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	def, lan := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("198.18.250.0/24")
	nh := func(link, weight int) fib.WeightedNexthop {
		return fib.WeightedNexthop{LinkIndex: link, Weight: weight}
	}
	old := []fib.WeightedNexthop{nh(3, 1), nh(4, 1), nh(5, 1)}
	g := newGrace(map[netip.Prefix][]fib.WeightedNexthop{def: old, lan: old[:2]}, t0)
	dead := map[int]bool{}
	alive := func(link int) bool { return !dead[link] }
	step := func(at time.Duration, want map[netip.Prefix][]fib.WeightedNexthop) map[netip.Prefix][]fib.WeightedNexthop {
		g.apply(want, t0.Add(at), alive)
		return want
	}
	same := func(got []fib.WeightedNexthop, want ...fib.WeightedNexthop) bool {
		return fmt.Sprint(got) == fmt.Sprint(want)
	}

	if want := step(time.Second, map[netip.Prefix][]fib.WeightedNexthop{}); !same(want[def], old...) || !same(want[lan], old[:2]...) {
		t.Fatalf("no session yet: %v; want both adopted routes as they were", want)
	}
	// BGP brings the default back through link 4 (weight 2 now): BGP's
	// next hop replaces the adopted one, the others stay beside it.
	if want := step(2*time.Second, map[netip.Prefix][]fib.WeightedNexthop{def: {nh(4, 2)}}); !same(want[def], nh(3, 1), nh(4, 2), nh(5, 1)) {
		t.Fatalf("default learned through link 4: %v, want link 4's next hop from BGP, 3 and 5 adopted", want[def])
	}
	// Link 4 fails before the other sessions are up: the default stays
	// through 3 and 5; link 5's BFD is down too.
	dead[5] = true
	if want := step(3*time.Second, map[netip.Prefix][]fib.WeightedNexthop{}); !same(want[def], nh(3, 1)) {
		t.Fatalf("link 4 gone from BGP, link 5 dead: default %v, want link 3's adopted next hop alone", want[def])
	}
	// Link 4's adopted next hop was forgotten when BGP carried it: it
	// does not come back from the grace.
	dead[5] = false
	if want := step(4*time.Second, map[netip.Prefix][]fib.WeightedNexthop{}); !same(want[def], nh(3, 1), nh(5, 1)) {
		t.Errorf("link 5 alive again: default %v, want 3 and 5 (4 was BGP's and is gone)", want[def])
	}
	// BGP carries the rest: the prefix leaves the grace; the other one is
	// still kept.
	full := []fib.WeightedNexthop{nh(3, 1), nh(5, 1)}
	if want := step(5*time.Second, map[netip.Prefix][]fib.WeightedNexthop{def: full}); !same(want[def], full...) || !same(want[lan], old[:2]...) {
		t.Errorf("BGP carries the default through 3 and 5: %v, want BGP's, and the LAN route still adopted", want)
	}
	if want := step(6*time.Second, map[netip.Prefix][]fib.WeightedNexthop{}); want[def] != nil {
		t.Errorf("the default came back from the grace after BGP had carried it through every tunnel: %v", want[def])
	}
	if got := g.next(); !got.Equal(t0.Add(RestartGrace)) {
		t.Errorf("next %v, want the grace's end", got)
	}
	want := map[netip.Prefix][]fib.WeightedNexthop{}
	if added, ended := g.apply(want, t0.Add(RestartGrace), alive); added != 0 || !ended || len(want) != 0 {
		t.Errorf("at the grace's end: added %d, ended %v, want %v; want nothing kept", added, ended, want)
	}
	if !g.next().IsZero() {
		t.Error("a grace after its end")
	}
	if g := newGrace(nil, t0); !g.next().IsZero() {
		t.Error("a grace with nothing adopted")
	}
}

// TestRestartGraceEndsWhenAllCarried: the grace ends early once BGP
// carries every adopted next hop again.
func TestRestartGraceEndsWhenAllCarried(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	def := netip.MustParsePrefix("::/0")
	old := []fib.WeightedNexthop{{LinkIndex: 3, Weight: 1}, {LinkIndex: 4, Weight: 1}}
	g := newGrace(map[netip.Prefix][]fib.WeightedNexthop{def: old}, t0)
	alive := func(int) bool { return true }
	if _, ended := g.apply(map[netip.Prefix][]fib.WeightedNexthop{def: old[:1]}, t0.Add(time.Second), alive); ended {
		t.Fatal("ended with link 4 not carried yet")
	}
	if _, ended := g.apply(map[netip.Prefix][]fib.WeightedNexthop{def: old}, t0.Add(2*time.Second), alive); !ended || !g.next().IsZero() {
		t.Errorf("BGP carries both: ended %v, next %v; want the grace over", ended, g.next())
	}
}
