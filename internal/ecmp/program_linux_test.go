package ecmp

import (
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// TestProgramRecordsOnlyWhatLanded: a route the kernel refuses (its
// tunnel is gone) is not recorded as installed, so the next reconcile
// writes it again instead of believing it done; and the last resort takes
// the default when no tunnel carries it, then hands it back.
func TestProgramRecordsOnlyWhatLanded(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	h := nsWithLinks(t, [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "add", "t1", "type", "veth", "peer", "name", "t1p"},
		{"ip", "link", "set", "t1", "up"}, {"ip", "link", "set", "t1p", "up"},
		{"ip", "addr", "add", "198.18.100.0/31", "dev", "t1"},
		{"ip", "link", "add", "bo", "type", "veth", "peer", "name", "bop"},
		{"ip", "link", "set", "bo", "up"}, {"ip", "link", "set", "bop", "up"},
		{"ip", "addr", "add", "198.18.5.2/24", "dev", "bo"},
	})
	c := &Controller{log: slog.New(slog.DiscardHandler), fib: h, plan: Plan{Table: 254},
		groups: map[rkey]uint32{}, installed: map[netip.Prefix][]fib.WeightedNexthop{}}
	t1, _ := netlink.LinkByName("t1")
	def4 := netip.MustParsePrefix("0.0.0.0/0")
	gone := netip.MustParsePrefix("198.51.100.0/24")
	want := map[netip.Prefix][]fib.WeightedNexthop{
		def4: {nh("198.18.100.1", t1.Attrs().Index, 1)},
		gone: {nh("198.18.100.1", 999, 1)}, // no such interface: refused
	}
	if err := c.program(want); err == nil {
		t.Fatal("program: no error for a route via a missing interface")
	}
	if _, ok := c.installed[gone]; ok {
		t.Errorf("installed records %s, which the kernel refused", gone)
	}
	if _, ok := c.installed[def4]; !ok {
		t.Errorf("installed lacks %s, which the kernel took", def4)
	}
	if c.writeErrors != 1 {
		t.Errorf("write errors %d, want 1", c.writeErrors)
	}

	// No tunnel: the last resort carries the default; a tunnel back: gone.
	lr := &LastResort{Via: "breakout", Interface: "bo", Gateway4: netip.MustParseAddr("198.18.5.1")}
	hops, err := lastResortHops(lr)
	if err != nil {
		t.Fatal(err)
	}
	c.plan.LastResort = lr
	none := map[netip.Prefix][]fib.WeightedNexthop{}
	used := withLastResort(none, []netip.Prefix{def4}, hops)
	if err := c.program(none); err != nil {
		t.Fatal(err)
	}
	c.noteLastResort(used, time.Now())
	if got := routeVia(t, "198.51.100.7"); got != "bo" {
		t.Errorf("with no tunnel, 198.51.100.7 leaves by %q, want the last resort bo", got)
	}
	if !c.lastResortStatus().Active {
		t.Error("status: last resort not active")
	}
	back := map[netip.Prefix][]fib.WeightedNexthop{def4: {nh("198.18.100.1", t1.Attrs().Index, 1)}}
	used = withLastResort(back, []netip.Prefix{def4}, hops)
	if err := c.program(back); err != nil {
		t.Fatal(err)
	}
	c.noteLastResort(used, time.Now())
	if got := routeVia(t, "198.51.100.7"); got != "t1" {
		t.Errorf("with a tunnel back, 198.51.100.7 leaves by %q, want t1", got)
	}
	if st := c.lastResortStatus(); st.Active || st.Since.IsZero() {
		t.Errorf("status after the tunnel came back: %+v", st)
	}
}

// routeVia is the interface the kernel picks for dst (`ip route get`,
// which sends nothing).
func routeVia(t *testing.T, dst string) string {
	t.Helper()
	rs, err := netlink.RouteGet(netip.MustParseAddr(dst).AsSlice())
	if err != nil || len(rs) == 0 {
		return ""
	}
	l, err := netlink.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		return ""
	}
	return l.Attrs().Name
}

// TestRoutesLoggedAfterEveryWrite: a failover writes every changed route
// before it logs any (a log line can wait on a slow journal or disk, and
// the second default route must not wait behind the first one's line).
func TestRoutesLoggedAfterEveryWrite(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	h := nsWithLinks(t, [][]string{
		{"ip", "link", "add", "t1", "type", "veth", "peer", "name", "t1p"},
		{"ip", "link", "set", "t1", "up"}, {"ip", "link", "set", "t1p", "up"},
		{"ip", "addr", "add", "198.18.100.0/31", "dev", "t1"},
	})
	// At each line logged, where the two prefixes lead in the kernel.
	var seen []string
	log := slog.New(handlerFunc(func(r slog.Record) {
		if r.Message == "ecmp route" {
			seen = append(seen, routeVia(t, "198.51.100.7")+","+routeVia(t, "203.0.113.7"))
		}
	}))
	c := &Controller{log: log, fib: h, plan: Plan{Table: 254},
		groups: map[rkey]uint32{}, installed: map[netip.Prefix][]fib.WeightedNexthop{}}
	t1, _ := netlink.LinkByName("t1")
	want := map[netip.Prefix][]fib.WeightedNexthop{
		netip.MustParsePrefix("198.51.100.0/24"): {nh("198.18.100.1", t1.Attrs().Index, 1)},
		netip.MustParsePrefix("203.0.113.0/24"):  {nh("198.18.100.1", t1.Attrs().Index, 1)},
	}
	if err := c.programChanged(want, nil); err != nil {
		t.Fatal(err)
	}
	c.logWritten()
	if len(seen) != 2 || seen[0] != "t1,t1" || seen[1] != "t1,t1" {
		t.Errorf("routes in the kernel at each line logged: %q, want both via t1 at both lines", seen)
	}
}

// handlerFunc is a slog.Handler that hands every record to f.
type handlerFunc func(slog.Record)

func (f handlerFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (f handlerFunc) Handle(_ context.Context, r slog.Record) error { f(r); return nil }
func (f handlerFunc) WithAttrs([]slog.Attr) slog.Handler            { return f }
func (f handlerFunc) WithGroup(string) slog.Handler                 { return f }

// nsWithLinks runs each command (the test's links and addresses) in the
// test's namespace and opens a fib.Handle there, closed at the test's end.
func nsWithLinks(t *testing.T, cmds [][]string) *fib.Handle {
	t.Helper()
	for _, cmd := range cmds {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", cmd, err, out)
		}
	}
	h, err := fib.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestFailoverLeavesBothGroupsInOneCall: in resilient mode a tunnel
// leaving the IPv4 and the IPv6 default's groups is one nexthop dump, one
// batch of steers and one of deletes (fib.SetResilientMany); route by
// route it was four round trips, each a chance for the failover to wait
// for the CPU.
func TestFailoverLeavesBothGroupsInOneCall(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	h, c, both := twoTunnels(t)
	if err := c.programChanged(both, nil); err != nil {
		t.Fatal(err)
	}
	onlyT2 := leaveT1(t, h, c, both)
	if !maps.EqualFunc(c.installed, onlyT2, sameNexthops) {
		t.Errorf("installed %v, want %v", c.installed, onlyT2)
	}
}

// twoTunnels makes two dual-stack point-to-point-like links (veths) t1 and
// t2 in the test's namespace and a resilient controller over them, with
// both defaults' next hops through both.
func twoTunnels(t *testing.T) (*fib.Handle, *Controller, map[netip.Prefix][]fib.WeightedNexthop) {
	var cmds [][]string
	for _, l := range []string{"t1", "t2"} {
		cmds = append(cmds, []string{"ip", "link", "add", l, "type", "veth", "peer", "name", l + "p"},
			[]string{"ip", "link", "set", l, "up"}, []string{"ip", "link", "set", l + "p", "up"})
	}
	cmds = append(cmds, []string{"ip", "addr", "add", "198.18.100.0/31", "dev", "t1"}, []string{"ip", "addr", "add", "198.18.100.2/31", "dev", "t2"},
		[]string{"ip", "addr", "add", "2001:db8:100:1::1/64", "dev", "t1", "nodad"}, []string{"ip", "addr", "add", "2001:db8:100:2::1/64", "dev", "t2", "nodad"})
	h := nsWithLinks(t, cmds)
	c := &Controller{log: slog.New(slog.DiscardHandler), fib: h, plan: Plan{Table: 254}, resilient: true, steer: true,
		groups: map[rkey]uint32{}, installed: map[netip.Prefix][]fib.WeightedNexthop{}}
	t1, _ := netlink.LinkByName("t1")
	t2, _ := netlink.LinkByName("t2")
	v4, v6 := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	return h, c, map[netip.Prefix][]fib.WeightedNexthop{
		v4: {nh("198.18.100.1", t1.Attrs().Index, 1), nh("198.18.100.3", t2.Attrs().Index, 1)},
		v6: {nh("2001:db8:100:1::2", t1.Attrs().Index, 1), nh("2001:db8:100:2::2", t2.Attrs().Index, 1)},
	}
}

// TestDualStackTunnelsShareMembers: in resilient mode a tunnel carrying
// both families is one member object in both defaults' groups, with no
// gateway; a tunnel failing deletes that one object (one of the kernel's
// grace periods, not two); what the controller records and a read-back
// still agree, with BGP's next hops kept for status.
func TestDualStackTunnelsShareMembers(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	h, c, both := twoTunnels(t)
	v4 := netip.MustParsePrefix("0.0.0.0/0")
	t1, t2 := both[v4][0].LinkIndex, both[v4][1].LinkIndex
	c.members = map[string]Member{"a": {Uplink: "a", LinkIndex: t1, DualStack: true}, "a-v6": {Uplink: "a", LinkIndex: t1, DualStack: true},
		"b": {Uplink: "b", LinkIndex: t2, DualStack: true}, "b-v6": {Uplink: "b", LinkIndex: t2, DualStack: true}}
	if err := c.program(both); err != nil {
		t.Fatal(err)
	}
	members := func() []fib.NexthopObject {
		t.Helper()
		all, err := h.Nexthops(config.RouteProtocol, NexthopIDs)
		if err != nil {
			t.Fatal(err)
		}
		var out []fib.NexthopObject
		for _, o := range all {
			if o.Group == nil {
				out = append(out, o)
			}
		}
		return out
	}
	objs := members()
	if len(objs) != 2 {
		t.Fatalf("member objects %+v, want 2: one per tunnel, shared by both groups", objs)
	}
	for _, o := range objs {
		if o.Gateway.IsValid() || o.Family != unix.AF_INET6 {
			t.Errorf("member %+v: want a device-only IPv6 object (an IPv4 route can use one, an IPv6 route no IPv4 one)", o)
		}
	}
	if !maps.EqualFunc(c.installed, both, sameNexthops) {
		t.Errorf("installed %v, want BGP's next hops %v", c.installed, both)
	}
	changes := c.changes
	if err := c.program(both); err != nil || c.changes != changes {
		t.Errorf("a second reconcile wrote %d routes (err %v): the read-back must match what was written", c.changes-changes, err)
	}
	if !maps.EqualFunc(c.installed, both, sameNexthops) {
		t.Errorf("after a read-back installed %v, want BGP's next hops %v", c.installed, both)
	}

	leaveT1(t, h, c, both)
	ids := map[int]uint32{objs[0].LinkIndex: objs[0].ID, objs[1].LinkIndex: objs[1].ID}
	if left := members(); len(left) != 1 || left[0].ID != ids[t2] || left[0].LinkIndex != t2 {
		t.Errorf("members after t1 left: %+v, want t2's object alone, its ID kept", left)
	}
}

// leaveT1 takes t1 (twoTunnels) out of both defaults, checks that it took
// three round trips (a nexthop dump, a batch of steers and one of
// deletes), that the steer's time is recorded as the failover's, and that
// both families then leave by t2, and returns the next hops it set.
func leaveT1(t *testing.T, h *fib.Handle, c *Controller, both map[netip.Prefix][]fib.WeightedNexthop) map[netip.Prefix][]fib.WeightedNexthop {
	t.Helper()
	onlyT2 := map[netip.Prefix][]fib.WeightedNexthop{}
	for p, nhs := range both {
		onlyT2[p] = nhs[1:]
	}
	before, start := h.Sends(), time.Now()
	if err := c.programChanged(onlyT2, nil); err != nil {
		t.Fatal(err)
	}
	if n := h.Sends() - before; n != 3 {
		t.Errorf("t1 leaving both groups: %d round trips, want 3", n)
	}
	if c.awayAt.Before(start) || c.awayAt.After(time.Now()) {
		t.Errorf("the steer's time %v (call began at 0): want it set, within the call", c.awayAt.Sub(start))
	}
	for _, dst := range []string{"203.0.113.7", "2001:db8:ffff::7"} {
		if via := routeVia(t, dst); via != "t2" {
			t.Errorf("route to %s leaves by %q, want t2 alone", dst, via)
		}
	}
	return onlyT2
}

// twoTunnelsAndReplies is twoTunnels with both defaults programmed in the
// ECMP table and in a published services' reply table, ret.
func twoTunnelsAndReplies(t *testing.T) (*fib.Handle, *Controller, map[netip.Prefix][]fib.WeightedNexthop, uint32) {
	t.Helper()
	h, c, both := twoTunnels(t)
	ret := uint32(config.ReturnTableBase + 1)
	c.retInstalled = map[uint32]map[netip.Prefix][]fib.WeightedNexthop{}
	if err := c.programChanged(both, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.programReturns(map[uint32]map[netip.Prefix][]fib.WeightedNexthop{ret: both}, true); err != nil {
		t.Fatal(err)
	}
	return h, c, both, ret
}

// TestReturnTablesMoveInTheSteer: in resilient mode a return table's
// routes are groups over the ECMP table's member objects, so a tunnel
// leaving both defaults and the return table's is still three round trips
// (a dump, one steer, one delete): the replies leave the dead tunnel at
// the steer with everything else, and the failover is out of the FIB then.
// A return route removed after it (its hub has no tunnel left for that
// family) makes the FIB time that last write's.
func TestReturnTablesMoveInTheSteer(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	h, c, both, ret := twoTunnelsAndReplies(t)
	groups := map[uint32]bool{}
	for _, table := range []uint32{254, ret} {
		sts, err := h.Multipaths(table, config.RouteProtocol)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			if st.GroupID == 0 || groups[st.GroupID] {
				t.Errorf("table %d %s via group %d: want a group of its own", table, st.Prefix, st.GroupID)
			}
			groups[st.GroupID] = true
		}
	}
	if len(groups) != 4 {
		t.Fatalf("%d groups, want 4: both defaults in the ECMP table and in the return table", len(groups))
	}
	v4 := netip.MustParsePrefix("0.0.0.0/0")
	onlyT2 := map[netip.Prefix][]fib.WeightedNexthop{}
	for p, nhs := range both {
		onlyT2[p] = nhs[1:]
	}
	detected, before := time.Now(), h.Sends()
	if err := c.programChanged(onlyT2, map[uint32]map[netip.Prefix][]fib.WeightedNexthop{ret: onlyT2}); err != nil {
		t.Fatal(err)
	}
	if n := h.Sends() - before; n != 3 {
		t.Errorf("t1 leaving both defaults and the return table: %d round trips, want 3", n)
	}
	t2 := both[v4][1].LinkIndex
	for _, table := range []uint32{254, ret} {
		sts, _ := h.Multipaths(table, config.RouteProtocol)
		for _, st := range sts {
			if len(st.Nexthops) != 1 || st.Nexthops[0].LinkIndex != t2 {
				t.Errorf("table %d %s via %v, want t2 alone", table, st.Prefix, st.Nexthops)
			}
		}
	}
	c.downAt = map[string]time.Time{"a": detected}
	c.noteFailover(onlyT2, time.Now())
	if f := c.lastFail; c.awayAt.IsZero() || !f.FIBDone.Equal(c.awayAt) || f.Took != c.awayAt.Sub(detected) {
		t.Errorf("failover %+v, steered at %v: want it out of the FIB at the steer", f, c.awayAt)
	}

	c.awayAt = time.Now()
	if err := c.programChanged(onlyT2, map[uint32]map[netip.Prefix][]fib.WeightedNexthop{ret: {v4: onlyT2[v4]}}); err != nil {
		t.Fatal(err)
	}
	c.downAt = map[string]time.Time{"a": detected}
	done := time.Now()
	c.noteFailover(onlyT2, done)
	if !c.lastFail.FIBDone.Equal(done) {
		t.Errorf("a return route removed after the steer: FIB done %v, want at the last write (%v)", c.lastFail.FIBDone.Sub(detected), done.Sub(detected))
	}
	if sts, _ := h.Multipaths(ret, config.RouteProtocol); len(sts) != 1 || sts[0].Prefix != v4 {
		t.Errorf("return table after the IPv6 route's removal: %+v", sts)
	}
	// A full reconcile reads the table back and, the group route matching
	// what BGP wants (members without the gateways, see kernelForm),
	// writes nothing.
	s0 := h.Sends()
	if _, err := h.Multipaths(ret, config.RouteProtocol); err != nil {
		t.Fatal(err)
	}
	read, s1 := h.Sends()-s0, h.Sends()
	if err := c.programReturns(map[uint32]map[netip.Prefix][]fib.WeightedNexthop{ret: {v4: onlyT2[v4]}}, true); err != nil {
		t.Fatal(err)
	}
	if n := h.Sends() - s1; n != read {
		t.Errorf("a full reconcile of an unchanged return table: %d round trips, want the read's %d", n, read)
	}
}

// TestSteerOnlyWhileTheFIBIsSmall: the full reconcile's count of the IPv4
// routes (every steerRecount) turns steering off past steerMaxPrefixes,
// since each steer makes the kernel walk them all; a failover is then a
// nexthop dump and a delete, its FIB time that of its last write.
func TestSteerOnlyWhileTheFIBIsSmall(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	h, c, both := twoTunnels(t)
	c.steer = false
	n, counted, err := c.countIPv4(time.Now())
	if !counted || err != nil {
		t.Fatalf("first count: counted %v, %v", counted, err)
	}
	if c.setSteer(n, err); !c.steer {
		t.Fatalf("%d IPv4 routes: steering off, want on", n)
	}
	v4 := netip.MustParsePrefix("0.0.0.0/0")
	var big []fib.Route
	for i := range steerMaxPrefixes {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		big = append(big, fib.Route{Prefix: p, Nexthop: fib.Nexthop{LinkIndex: both[v4][1].LinkIndex}})
	}
	if _, err := h.Sync(300, config.RouteProtocol, big); err != nil {
		t.Fatal(err)
	}
	if _, counted, _ := c.countIPv4(time.Now()); counted {
		t.Errorf("counted again before %v passed", steerRecount)
	}
	n, counted, err = c.countIPv4(time.Now().Add(steerRecount))
	if c.setSteer(n, err); !counted || c.steer {
		t.Fatalf("%d IPv4 routes (counted %v, %v): steering on, want off past %d", n, counted, err, steerMaxPrefixes)
	}
	if err := c.programChanged(both, nil); err != nil {
		t.Fatal(err)
	}
	onlyT2 := map[netip.Prefix][]fib.WeightedNexthop{}
	for p, nhs := range both {
		onlyT2[p] = nhs[1:]
	}
	before := h.Sends()
	if err := c.programChanged(onlyT2, nil); err != nil {
		t.Fatal(err)
	}
	if sends := h.Sends() - before; sends != 2 || !c.awayAt.IsZero() {
		t.Errorf("t1 leaving unsteered: %d round trips, steered at %v; want 2 (a dump, a delete), not steered", sends, c.awayAt)
	}
}

// TestMultipathAfterResilientLeavesNoGroups: a daemon started in
// multipath mode (resilient = "off") over the routes a resilient run left
// adopts them, rewrites them as plain multipath routes, and removes the
// groups and member objects no route uses any more: `ip nexthop` shows
// none of ours, where they stayed until the exit sweep before.
func TestMultipathAfterResilientLeavesNoGroups(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	h, _, both, ret := twoTunnelsAndReplies(t)
	if objs, _ := h.Nexthops(config.RouteProtocol, NexthopIDs); len(objs) != 8 {
		t.Fatalf("the resilient run left %d nexthop objects, want 8 (4 groups; 4 members, with their gateways here)", len(objs))
	}

	next := &Controller{log: slog.New(slog.DiscardHandler), fib: h, plan: Plan{Table: 254, Returns: []config.ReturnPath{{Hub: "hub", Table: int(ret)}}},
		groups: map[rkey]uint32{}, installed: map[netip.Prefix][]fib.WeightedNexthop{},
		retInstalled: map[uint32]map[netip.Prefix][]fib.WeightedNexthop{}}
	if err := next.adopt(time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := next.program(both); err != nil {
		t.Fatal(err)
	}
	if err := next.programReturns(map[uint32]map[netip.Prefix][]fib.WeightedNexthop{ret: both}, true); err != nil {
		t.Fatal(err)
	}
	if objs, err := h.Nexthops(config.RouteProtocol, NexthopIDs); err != nil || len(objs) != 0 {
		t.Errorf("nexthop objects left in multipath mode: %+v (err %v), want none", objs, err)
	}
	for _, table := range []uint32{254, ret} {
		sts, err := h.Multipaths(table, config.RouteProtocol)
		if err != nil || len(sts) != 2 {
			t.Fatalf("table %d: %+v (err %v), want both defaults", table, sts, err)
		}
		for _, st := range sts {
			if st.GroupID != 0 || len(st.Nexthops) != 2 {
				t.Errorf("table %d %s via group %d over %v: want a plain route over both tunnels", table, st.Prefix, st.GroupID, st.Nexthops)
			}
		}
	}
}
