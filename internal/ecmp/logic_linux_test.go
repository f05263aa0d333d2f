package ecmp

import (
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/bfd"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/fib/fibtest"
)

// The controller's logic against fibtest.Fake: no root, no namespace.
// What these tests read is the fake's routes (what the kernel would hold)
// and the writes it was asked for; the kernel's side of each call is
// tested in fib, and the two together in the namespace tests here.

var (
	def4     = netip.MustParsePrefix("0.0.0.0/0")
	def6     = netip.MustParsePrefix("::/0")
	onlySB   = netip.MustParsePrefix("198.51.100.0/24") // softbank alone carries it
	onlyDC   = netip.MustParsePrefix("203.0.113.0/24")  // docomo alone carries it
	retTable = uint32(config.ReturnTableBase + 1)
)

// threeCarriers is a resilient (or plain multipath) controller over a
// fake FIB with three tunnels to one hub, BFD up on each, and the routes
// and members of a full reconcile: both defaults over every tunnel
// (rakuten has no IPv6), a prefix only softbank carries, one only docomo
// does, and a return table for the hub's published services.
func threeCarriers(t *testing.T, resilient bool) (*fibtest.Fake, *Controller) {
	t.Helper()
	f := fibtest.New()
	a := netip.MustParseAddr
	links := []Link{
		{Name: "docomo", Interface: "wg-docomo", Hub: "hub", Weight: 3, Local6: a("2001:db8:100:1::1")},
		{Name: "softbank", Interface: "wg-softbank", Hub: "hub", Weight: 2, Local6: a("2001:db8:100:2::1")},
		{Name: "rakuten", Interface: "wg-rakuten", Hub: "hub", Weight: 1},
	}
	c := &Controller{log: slog.New(slog.DiscardHandler), fib: f, resilient: resilient, steer: true,
		plan:   Plan{Table: 254, BFD: true, Links: links, Returns: []config.ReturnPath{{Hub: "hub", Table: int(retTable)}}},
		failed: make(chan struct{}, 1),
		live:   NewLiveness(time.Second),
		groups: map[rkey]uint32{}, installed: map[netip.Prefix][]fib.WeightedNexthop{},
		downAt: map[string]time.Time{}, retInstalled: map[uint32]map[netip.Prefix][]fib.WeightedNexthop{},
		members: map[string]Member{},
	}
	for i, l := range links {
		m := Member{Uplink: l.Name, LinkIndex: 11 + i, Weight: l.Weight, DualStack: l.Local6.IsValid()}
		c.members[peerName(l.Name, false)], c.members[peerName(l.Name, true)] = m, m
		c.live.ObserveBFD(l.Name, bfd.Change{Interface: l.Interface, New: bfd.StateUp, At: time.Now().Add(-time.Minute)})
	}
	c.routes = map[netip.Prefix][]bgp.Path{
		def4:   {{Peer: "docomo", NextHop: a("198.18.100.0")}, {Peer: "softbank", NextHop: a("198.18.100.2")}, {Peer: "rakuten", NextHop: a("198.18.100.4")}},
		def6:   {{Peer: peerName("docomo", true), NextHop: a("2001:db8:100:1::")}, {Peer: peerName("softbank", true), NextHop: a("2001:db8:100:2::")}},
		onlySB: {{Peer: "softbank", NextHop: a("198.18.100.2")}},
		onlyDC: {{Peer: "docomo", NextHop: a("198.18.100.0")}},
	}
	return f, c
}

// state is the fake's routes of table by prefix, as link:weight lists.
func state(t *testing.T, f *fibtest.Fake, table uint32) map[netip.Prefix][]string {
	t.Helper()
	sts, err := f.Multipaths(table, config.RouteProtocol)
	if err != nil {
		t.Fatal(err)
	}
	out := map[netip.Prefix][]string{}
	for _, st := range sts {
		out[st.Prefix] = hops(st.Nexthops)
	}
	return out
}

func hops(nhs []fib.WeightedNexthop) []string {
	var s []string
	for _, n := range nhs {
		s = append(s, n.String())
	}
	slices.Sort(s)
	return s
}

// links is which links (by index) a route's next hops use.
func links(t *testing.T, f *fibtest.Fake, table uint32, p netip.Prefix) []int {
	t.Helper()
	st, ok, err := f.Multipath(table, config.RouteProtocol, p)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	var out []int
	for _, n := range st.Nexthops {
		out = append(out, n.LinkIndex)
	}
	slices.Sort(out)
	return out
}

// TestFailoverFromBFD: BFD reporting a tunnel down (onBFD) wakes the
// failover thread, whose reconcile (reconcileLiveness) takes the tunnel
// out of every route and of the return table, withdraws what only it
// carried, writes nothing else, and records the failover. In both modes.
func TestFailoverFromBFD(t *testing.T) {
	for _, resilient := range []bool{true, false} {
		t.Run(map[bool]string{true: "resilient", false: "multipath"}[resilient], func(t *testing.T) {
			f, c := threeCarriers(t, resilient)
			c.reconcileLiveness(time.Now())
			if c.lastErr != nil {
				t.Fatal(c.lastErr)
			}
			if got := links(t, f, 254, def4); !slices.Equal(got, []int{11, 12, 13}) {
				t.Fatalf("IPv4 default over links %v, want all three", got)
			}
			if got := links(t, f, retTable, def4); !slices.Equal(got, []int{11, 12, 13}) {
				t.Fatalf("return table's default over links %v, want all three", got)
			}
			f.Written = nil

			detected := time.Now()
			c.onBFD(bfd.Change{Interface: "wg-softbank", Old: bfd.StateUp, New: bfd.StateDown, Diag: bfd.DiagControlExpired, RemoteState: bfd.StateUp, At: detected})
			select {
			case <-c.failed:
			default:
				t.Fatal("onBFD did not wake the failover thread")
			}
			c.reconcileLiveness(time.Now())
			if c.lastErr != nil {
				t.Fatal(c.lastErr)
			}
			for _, w := range []struct {
				table uint32
				p     netip.Prefix
				links []int
			}{{254, def4, []int{11, 13}}, {254, def6, []int{11}}, {254, onlySB, nil}, {254, onlyDC, []int{11}}, {retTable, def4, []int{11, 13}}} {
				if got := links(t, f, w.table, w.p); !slices.Equal(got, w.links) {
					t.Errorf("after softbank failed, table %d %s over links %v, want %v", w.table, w.p, got, w.links)
				}
			}
			var wrote []string
			for _, mp := range f.Written {
				wrote = append(wrote, mp.Prefix.String())
			}
			slices.Sort(wrote)
			// Both defaults in the ECMP table and in the return table, the
			// withdrawal of softbank's own prefix; docomo's is untouched.
			want := []string{"0.0.0.0/0", "0.0.0.0/0", "198.51.100.0/24", "::/0", "::/0"}
			if !slices.Equal(wrote, want) {
				t.Errorf("the failover wrote %v, want %v: the routes softbank was in, its own prefix withdrawn, the return table's defaults; nothing else", wrote, want)
			}
			if fo := c.lastFail; fo.Link != "softbank" || !fo.Detected.Equal(detected) || fo.Took < 0 || fo.FIBDone.Before(detected) {
				t.Errorf("failover recorded %+v, want softbank's, detected at the change", fo)
			}
			if len(c.downAt) != 0 {
				t.Errorf("detections still pending after the failover: %v", c.downAt)
			}
		})
	}
}

// TestFailoverTimedByTheFIB: the failover's FIB time is when the steer
// landed when the FIB says so (fib.Shrink's away) and nothing was written
// after it; a route written after the group call (a withdrawal) makes it
// that last write's.
func TestFailoverTimedByTheFIB(t *testing.T) {
	f, c := threeCarriers(t, true)
	delete(c.routes, onlySB) // softbank leaving withdraws nothing: only the groups change
	c.reconcileLiveness(time.Now())
	f.Away = time.Now().Add(-time.Hour) // a time no write could have
	detected := time.Now()
	c.onBFD(bfd.Change{Interface: "wg-softbank", Old: bfd.StateUp, New: bfd.StateDown, RemoteState: bfd.StateUp, At: detected})
	c.reconcileLiveness(time.Now())
	if !c.lastFail.FIBDone.Equal(f.Away) {
		t.Errorf("FIB done %v, want the steer's time the FIB answered (%v)", c.lastFail.FIBDone, f.Away)
	}

	f2, c2 := threeCarriers(t, true)
	c2.reconcileLiveness(time.Now())
	f2.Away = time.Now().Add(-time.Hour)
	detected2 := time.Now()
	c2.onBFD(bfd.Change{Interface: "wg-softbank", Old: bfd.StateUp, New: bfd.StateDown, RemoteState: bfd.StateUp, At: detected2})
	c2.reconcileLiveness(time.Now())
	if done := c2.lastFail.FIBDone; done.Before(detected2) || done.After(time.Now()) {
		t.Errorf("softbank's own prefix withdrawn after the steer: FIB done %v before the detection; want at that last write, after it", detected2.Sub(done))
	}
}

// TestProgramRepairsDrift: routes of ours changed, deleted or added by
// hand are put back to what BGP and liveness want by the next full
// reconcile's program (it reads the FIB back), and a reconcile with
// nothing to repair writes nothing.
func TestProgramRepairsDrift(t *testing.T) {
	for _, resilient := range []bool{true, false} {
		t.Run(map[bool]string{true: "resilient", false: "multipath"}[resilient], func(t *testing.T) {
			f, c := threeCarriers(t, resilient)
			want := NextHops(c.routes, c.members, c.aliveAt(time.Now()))
			if err := c.program(want); err != nil {
				t.Fatal(err)
			}
			good := state(t, f, 254)
			if len(good) != 4 {
				t.Fatalf("after program: %v, want 4 routes", good)
			}
			// Drift: the IPv4 default replaced by hand with one next hop (a
			// plain route where a group was), a route deleted, a stray one
			// of our protocol added.
			stray := netip.MustParsePrefix("198.18.99.0/24")
			for _, err := range []error{
				f.ReplaceMultipath(fib.Multipath{Table: 254, Protocol: config.RouteProtocol, Prefix: def4, Nexthops: want[def4][:1]}),
				f.DeleteRoutes(254, config.RouteProtocol, []fib.Route{{Prefix: onlyDC}}),
				f.ReplaceMultipath(fib.Multipath{Table: 254, Protocol: config.RouteProtocol, Prefix: stray, Nexthops: want[onlyDC]}),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := c.program(want); err != nil {
				t.Fatal(err)
			}
			if got := state(t, f, 254); !maps.EqualFunc(got, good, slices.Equal) {
				t.Errorf("after the repair: %v, want %v", got, good)
			}
			if !maps.EqualFunc(c.installed, want, sameNexthops) {
				t.Errorf("installed %v, want %v", c.installed, want)
			}
			f.Written = nil
			if err := c.program(want); err != nil || len(f.Written) != 0 {
				t.Errorf("a reconcile with nothing to repair wrote %v (err %v)", f.Written, err)
			}
		})
	}
}

// TestRefusedRouteTriedAgain: a route the kernel refuses is not recorded
// as installed, so the failover path, which trusts the record and reads
// nothing back, still writes it the next time instead of believing it done.
func TestRefusedRouteTriedAgain(t *testing.T) {
	f, c := threeCarriers(t, true)
	refused := errors.New("no such device")
	f.Refuse = func(mp fib.Multipath) error {
		if mp.Prefix == onlySB {
			return refused
		}
		return nil
	}
	want := NextHops(c.routes, c.members, c.aliveAt(time.Now()))
	if err := c.program(want); !errors.Is(err, refused) {
		t.Fatalf("program: %v, want the refusal", err)
	}
	if _, ok := c.installed[onlySB]; ok {
		t.Errorf("installed records %s, which the kernel refused", onlySB)
	}
	if c.writeErrors != 1 {
		t.Errorf("write errors %d, want 1", c.writeErrors)
	}
	f.Refuse, f.Written = nil, nil
	if err := c.programChanged(want, nil); err != nil {
		t.Fatal(err)
	}
	if len(f.Written) != 1 || f.Written[0].Prefix != onlySB {
		t.Errorf("the next failover reconcile wrote %v, want %s alone", f.Written, onlySB)
	}
	if got := links(t, f, 254, onlySB); !slices.Equal(got, []int{12}) {
		t.Errorf("%s over links %v, want softbank's", onlySB, got)
	}
}

// TestAdoptKeepsGroupsOfTheRunBefore: at start the routes an earlier run
// left are taken as installed with their resilient groups (their flows
// stay put) and kept by the restart grace; the same routes wanted again
// are not rewritten, and a group outside uplinkd's ID block is not taken.
func TestAdoptKeepsGroupsOfTheRunBefore(t *testing.T) {
	f, c := threeCarriers(t, true)
	want := NextHops(c.routes, c.members, c.aliveAt(time.Now()))
	ours, foreign := NexthopIDs.First+7, NexthopIDs.Last+1
	for p, id := range map[netip.Prefix]uint32{def4: ours, onlyDC: foreign} {
		if err := f.SetResilient(c.multipath(254, p, want[p]), NexthopIDs, fib.Resilient{GroupID: id}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if err := c.adopt(now); err != nil {
		t.Fatal(err)
	}
	if c.groups[rkey{254, def4}] != ours {
		t.Errorf("IPv4 default's group %d, want the run before's %d kept", c.groups[rkey{254, def4}], ours)
	}
	if id, ok := c.groups[rkey{254, onlyDC}]; ok {
		t.Errorf("%s adopted group %d, outside uplinkd's IDs", onlyDC, id)
	}
	if len(c.installed) != 2 || c.grace.next().IsZero() || !c.grace.next().Equal(now.Add(RestartGrace)) {
		t.Errorf("installed %v, grace until %v: want both routes adopted, kept for %v", c.installed, c.grace.next(), RestartGrace)
	}
	f.Written = nil
	if err := c.programChanged(map[netip.Prefix][]fib.WeightedNexthop{def4: want[def4]}, nil); err != nil {
		t.Fatal(err)
	}
	for _, mp := range f.Written {
		if mp.Prefix == def4 {
			t.Errorf("the adopted IPv4 default was written again: %+v", mp)
		}
	}
}
