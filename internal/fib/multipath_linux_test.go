package fib

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testIDs = IDRange{First: 2110000, Last: 2110999}

// weighted returns nexthops via uplinks idx of ns with the given weights.
func (ns *testNS) weighted(v6 bool, idx []int, weights []int) []WeightedNexthop {
	var out []WeightedNexthop
	for k, i := range idx {
		gw := gw4(i)
		if v6 {
			gw = gw6(i)
		}
		out = append(out, WeightedNexthop{Gateway: gw, LinkIndex: ns.links[i], Weight: weights[k]})
	}
	return out
}

func TestResilientSupported(t *testing.T) {
	ns := newNS(t, 0)
	ok, err := ns.h.ResilientSupported(testProto, testIDs)
	if err != nil || !ok {
		t.Fatalf("ResilientSupported = %v, %v; want true on Linux >= 5.13", ok, err)
	}
	if out := strings.TrimSpace(ns.ip(t, "nexthop", "show")); out != "" {
		t.Errorf("the probe left nexthop objects behind:\n%s", out)
	}
}

func TestSetMultipathPlain(t *testing.T) {
	ns := newNS(t, 3)
	for _, v6 := range []bool{false, true} {
		t.Run(fmt.Sprint("v6=", v6), func(t *testing.T) {
			prefix := netip.MustParsePrefix("0.0.0.0/0")
			if v6 {
				prefix = netip.MustParsePrefix("::/0")
			}
			mp := Multipath{Table: testTable, Protocol: testProto, Prefix: prefix, Nexthops: ns.weighted(v6, []int{0, 1, 2}, []int{2, 1, 1})}
			if err := ns.h.SetMultipath(mp); err != nil {
				t.Fatalf("SetMultipath: %v", err)
			}
			mon := ns.watch(t)
			if err := ns.h.SetMultipath(mp); err != nil {
				t.Fatalf("second SetMultipath: %v", err)
			}
			if n := mon.changes(t); n != 0 {
				t.Errorf("second SetMultipath with the same input: %d route changes, want 0", n)
			}
			fam := "-4"
			if v6 {
				fam = "-6"
			}
			out := ns.ip(t, fam, "route", "show", "table", "100", "proto", "211")
			for i, w := range []int{2, 1, 1} {
				re := fmt.Sprintf(`nexthop via %s dev up%d weight %d`, regexp.QuoteMeta(mp.Nexthops[i].Gateway.String()), i, w)
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("ip route show lacks %q:\n%s", re, out)
				}
			}
			st, found, err := ns.h.Multipath(testTable, testProto, prefix)
			if err != nil || !found {
				t.Fatalf("Multipath read back: found=%v err=%v", found, err)
			}
			if diff := cmp.Diff(MultipathState{Prefix: prefix, Nexthops: mp.Nexthops}, st, netipEq); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			// Sync in the same table must not touch the multipath route.
			if _, err := ns.h.Sync(testTable, testProto, viaFamily(realLooking(10, 10), 0)); err != nil {
				t.Fatal(err)
			}
			if _, found, _ := ns.h.Multipath(testTable, testProto, prefix); !found {
				t.Errorf("Sync deleted the multipath route %s", prefix)
			}
			mp.Nexthops = nil
			if err := ns.h.SetMultipath(mp); err != nil {
				t.Fatalf("SetMultipath with no nexthops: %v", err)
			}
			if out := ns.ip(t, fam, "route", "show", "table", "100", "proto", "211", "root", prefix.String()); strings.Contains(out, "nexthop") {
				t.Errorf("route %s still there:\n%s", prefix, out)
			}
		})
	}
}

// bucketMap parses `ip nexthop bucket show id X` into index → nexthop id.
func bucketMap(t *testing.T, ns *testNS, id uint32) map[int]int {
	t.Helper()
	re := regexp.MustCompile(`index (\d+) .*nhid (\d+)`)
	m := map[int]int{}
	for _, l := range strings.Split(ns.ip(t, "nexthop", "bucket", "show", "id", fmt.Sprint(id)), "\n") {
		if s := re.FindStringSubmatch(l); s != nil {
			idx, _ := strconv.Atoi(s[1])
			nh, _ := strconv.Atoi(s[2])
			m[idx] = nh
		}
	}
	return m
}

// groupLine returns the `ip nexthop show id X` line of a group.
func groupLine(t *testing.T, ns *testNS, id uint32) string {
	return strings.TrimSpace(ns.ip(t, "nexthop", "show", "id", fmt.Sprint(id)))
}

// TestResilientMemberRemoval is the flow-stability proof: removing one
// member keeps the group id and the route, and every bucket that mapped to a
// surviving member still maps to it.
func TestResilientMemberRemoval(t *testing.T) {
	ns := newNS(t, 3)
	tests := []struct {
		name   string
		prefix netip.Prefix
		gid    uint32
		// shared: another route's group uses the same members, so the
		// member leaves by a group replace rather than by deleting it.
		shared bool
	}{
		{"ipv4", netip.MustParsePrefix("0.0.0.0/0"), testIDs.First, false},
		{"ipv6", netip.MustParsePrefix("::/0"), testIDs.First + 1, false},
		{"ipv4 shared members", netip.MustParsePrefix("198.51.100.0/24"), testIDs.First + 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix, gid, v6 := tt.prefix, tt.gid, tt.prefix.Addr().Is6()
			if tt.shared {
				ns.shareMembers(t, v6)
			}
			res := Resilient{GroupID: gid, Buckets: 64}
			mp := Multipath{Table: testTable, Protocol: testProto, Prefix: prefix, Nexthops: ns.weighted(v6, []int{0, 1, 2}, []int{2, 1, 1})}
			if err := ns.h.SetResilient(mp, testIDs, res); err != nil {
				t.Fatalf("SetResilient: %v", err)
			}
			line := groupLine(t, ns, gid)
			if !regexp.MustCompile(`group \d+,2/\d+/\d+ type resilient buckets 64 .*proto 211`).MatchString(line) {
				t.Errorf("ip nexthop show id %d: %q, want 3 members weights 2,1,1, resilient, 64 buckets, proto 211", gid, line)
			}
			before := bucketMap(t, ns, gid)
			if len(before) != 64 {
				t.Fatalf("buckets before: %d, want 64", len(before))
			}
			assertBucketsAPI(t, ns, gid, before)
			routeBefore := ns.routeLine(t, prefix)
			if !strings.Contains(routeBefore, fmt.Sprintf("nhid %d", gid)) {
				t.Fatalf("route does not use group %d:\n%s", gid, routeBefore)
			}
			mon := ns.watch(t)
			if err := ns.h.SetResilient(mp, testIDs, res); err != nil {
				t.Fatalf("second SetResilient: %v", err)
			}
			if n := mon.changes(t); n != 0 {
				t.Errorf("second SetResilient with the same input: %d route/nexthop changes, want 0", n)
			}

			st, _, _ := ns.h.Multipath(testTable, testProto, prefix)
			gone := memberID(t, ns, st, mp.Nexthops[1])
			mp.Nexthops = []WeightedNexthop{mp.Nexthops[0], mp.Nexthops[2]}
			if err := ns.h.SetResilient(mp, testIDs, res); err != nil {
				t.Fatalf("SetResilient without uplink 1: %v", err)
			}
			if n := mon.changes(t); n == 0 {
				t.Error("the monitor saw no change when a member left: it is blind, so its 0 above proves nothing")
			}
			line = groupLine(t, ns, gid)
			if !regexp.MustCompile(fmt.Sprintf(`^id %d group \d+,2/\d+ type resilient buckets 64`, gid)).MatchString(line) {
				t.Errorf("after removal: %q, want the same id with 2 members", line)
			}
			if r := ns.routeLine(t, prefix); r != routeBefore {
				t.Errorf("route changed:\nbefore %s\nafter  %s", routeBefore, r)
			}
			after := bucketMap(t, ns, gid)
			assertBucketsAPI(t, ns, gid, after)
			moved := assertSurvivorsStay(t, before, after, gone)
			t.Logf("removed member %d: %d of 64 buckets moved, all survivors' buckets stayed", gone, moved)
			if still := strings.Contains(ns.ip(t, "nexthop", "show"), fmt.Sprintf("id %d ", gone)); still != tt.shared {
				t.Errorf("nexthop object %d of the removed member still there: %v, want %v (only another group keeps it)", gone, still, tt.shared)
			}
			got, _, _ := ns.h.Multipath(testTable, testProto, prefix)
			if diff := cmp.Diff(MultipathState{Prefix: prefix, GroupID: gid, Nexthops: mp.Nexthops}, got, netipEq); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
}

// memberID finds the nexthop object id a group uses for nh.
func memberID(t *testing.T, ns *testNS, st MultipathState, nh WeightedNexthop) int {
	t.Helper()
	objs, err := ns.h.Nexthops(testProto, testIDs)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Group == nil && o.Gateway == nh.Gateway && o.LinkIndex == nh.LinkIndex {
			return int(o.ID)
		}
	}
	t.Fatalf("no nexthop object for %s", nh)
	return 0
}

// assertBucketsAPI checks that Buckets reads what ip(8) shows.
func assertBucketsAPI(t *testing.T, ns *testNS, gid uint32, shown map[int]int) {
	t.Helper()
	bs, err := ns.h.Buckets(gid)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for _, b := range bs {
		got[int(b.Index)] = int(b.NexthopID)
	}
	if diff := cmp.Diff(shown, got); diff != "" {
		t.Errorf("Buckets(%d) differs from ip nexthop bucket show (-ip +api):\n%s", gid, diff)
	}
}

// TestResilientLifecycle: read back, a member returns, the bucket count
// changes (a new group, the route re-pointed), and the last member goes.
func TestResilientLifecycle(t *testing.T) {
	ns := newNS(t, 3)
	prefix, gid := netip.MustParsePrefix("198.51.100.0/24"), testIDs.First
	mp := Multipath{Table: testTable, Protocol: testProto, Prefix: prefix, Nexthops: ns.weighted(false, []int{0, 2}, []int{3, 1})}
	res := Resilient{GroupID: gid, Buckets: 32, IdleTimer: 5 * time.Second}
	if err := ns.h.SetResilient(mp, testIDs, res); err != nil {
		t.Fatal(err)
	}
	objs, err := ns.h.Nexthops(testProto, testIDs)
	if err != nil {
		t.Fatal(err)
	}
	group, ok := findID(objs, gid)
	if !ok || len(objs) != 3 {
		t.Fatalf("Nexthops: %+v; want the group and 2 members", objs)
	}
	wantRes := Resilient{GroupID: gid, Buckets: 32, IdleTimer: 5 * time.Second}
	if !groupMatches(group, res.withDefaults(), group.Group) {
		t.Errorf("group read back %+v does not match its config %+v: a second SetResilient would replace it", group.Resilient, res)
	}
	if group.Resilient == nil || *group.Resilient != wantRes || len(group.Group) != 2 || group.Group[0].Weight != 3 || group.Protocol != testProto {
		t.Errorf("group read back: %+v (resilient %+v), want 32 buckets, idle 5s, weights 3,1, proto 211", group, group.Resilient)
	}

	mp.Nexthops = ns.weighted(false, []int{0, 1, 2}, []int{3, 1, 1})
	if err := ns.h.SetResilient(mp, testIDs, res); err != nil {
		t.Fatalf("member returns: %v", err)
	}
	if got, _, _ := ns.h.Multipath(testTable, testProto, prefix); got.GroupID != gid || len(got.Nexthops) != 3 {
		t.Errorf("after a member returned: %+v, want group %d with 3 nexthops", got, gid)
	}

	res.Buckets = 16
	if err := ns.h.SetResilient(mp, testIDs, res); err != nil {
		t.Fatalf("bucket count change: %v", err)
	}
	if !strings.Contains(groupLine(t, ns, gid), "buckets 16") {
		t.Errorf("after bucket change: %s", groupLine(t, ns, gid))
	}
	if got, found, _ := ns.h.Multipath(testTable, testProto, prefix); !found || got.GroupID != gid {
		t.Errorf("route after the group was recreated: %+v found=%v, want it via group %d", got, found, gid)
	}

	mp.Nexthops = nil
	if err := ns.h.SetResilient(mp, testIDs, res); err != nil {
		t.Fatalf("no members: %v", err)
	}
	if out := strings.TrimSpace(ns.ip(t, "nexthop", "show")); out != "" {
		t.Errorf("no members left, yet ip nexthop show says:\n%s", out)
	}
	if out := strings.TrimSpace(ns.ip(t, "route", "show", "table", "100")); out != "" {
		t.Errorf("no members left, yet table 100 has:\n%s", out)
	}
}

// TestSwitchMechanism: a route moves between a resilient group and a plain
// multipath route (the fallback) and back, and a plain route's member set
// changes, in both families.
func TestSwitchMechanism(t *testing.T) {
	ns := newNS(t, 3)
	for _, v6 := range []bool{false, true} {
		t.Run(fmt.Sprint("v6=", v6), func(t *testing.T) {
			prefix := netip.MustParsePrefix("203.0.113.0/24")
			if v6 {
				prefix = netip.MustParsePrefix("2001:db8:100::/48")
			}
			mp := Multipath{Table: testTable, Protocol: testProto, Prefix: prefix, Nexthops: ns.weighted(v6, []int{0, 1, 2}, []int{1, 2, 3})}
			res := Resilient{GroupID: testIDs.First + 10, Buckets: 16}
			steps := []struct {
				name      string
				resilient bool
				members   []int
				weights   []int
			}{
				{"plain", false, []int{0, 1, 2}, []int{1, 2, 3}},
				{"plain, one gone", false, []int{0, 2}, []int{1, 3}},
				{"plain, weights", false, []int{0, 2}, []int{4, 1}},
				{"to resilient", true, []int{0, 1, 2}, []int{1, 2, 3}},
				{"back to plain", false, []int{1, 2}, []int{1, 1}},
			}
			for _, s := range steps {
				mp.Nexthops = ns.weighted(v6, s.members, s.weights)
				var err error
				if s.resilient {
					err = ns.h.SetResilient(mp, testIDs, res)
				} else {
					err = ns.h.SetMultipath(mp)
				}
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				got, found, err := ns.h.Multipath(testTable, testProto, prefix)
				if err != nil || !found {
					t.Fatalf("%s: read back found=%v err=%v", s.name, found, err)
				}
				want := MultipathState{Prefix: prefix, Nexthops: mp.Nexthops}
				if s.resilient {
					want.GroupID = res.GroupID
				}
				if diff := cmp.Diff(want, got, netipEq); diff != "" {
					t.Errorf("%s: read back (-want +got):\n%s", s.name, diff)
				}
			}
			if err := ns.h.RemoveGroup(testProto, testIDs, res.GroupID); err != nil {
				t.Fatalf("RemoveGroup after the fallback: %v", err)
			}
			if out := strings.TrimSpace(ns.ip(t, "nexthop", "show")); out != "" {
				t.Errorf("after RemoveGroup, ip nexthop show says:\n%s", out)
			}
			fam := "-4"
			if v6 {
				fam = "-6"
			}
			if n := lines(ns.ip(t, fam, "route", "show", "table", "100", "proto", "211")); n != 3 {
				t.Errorf("want exactly one route with 2 nexthop lines, got %d lines:\n%s", n, ns.ip(t, fam, "route", "show", "table", "100"))
			}
		})
	}
}

// TestDeviceOnlyNexthops: members without a gateway, as over point-to-point
// tunnels, both mechanisms and both families.
func TestDeviceOnlyNexthops(t *testing.T) {
	ns := newNS(t, 2)
	devOnly := []WeightedNexthop{{LinkIndex: ns.links[0], Weight: 2}, {LinkIndex: ns.links[1], Weight: 1}}
	for i, prefix := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} {
		mp := Multipath{Table: 200 + uint32(i), Protocol: testProto, Prefix: prefix, Nexthops: devOnly}
		tables := []uint32{mp.Table, 100}
		err := ns.h.SetMultipath(mp)
		switch {
		case prefix.Addr().Is6() && err == nil:
			t.Errorf("SetMultipath %s dev-only: accepted, the kernel refuses it", prefix)
		case prefix.Addr().Is6():
			tables = tables[1:]
		case err != nil:
			t.Fatalf("SetMultipath %s dev-only: %v", prefix, err)
		}
		mp.Table = 100
		if err := ns.h.SetResilient(mp, testIDs, Resilient{GroupID: testIDs.First + uint32(i), Buckets: 8}); err != nil {
			t.Fatalf("SetResilient %s dev-only: %v", prefix, err)
		}
		for _, table := range tables {
			got, found, err := ns.h.Multipath(table, testProto, prefix)
			if err != nil || !found {
				t.Fatalf("%s table %d: found=%v err=%v", prefix, table, found, err)
			}
			if diff := cmp.Diff(devOnly, got.Nexthops, netipEq); diff != "" {
				t.Errorf("%s table %d read back (-want +got):\n%s", prefix, table, diff)
			}
		}
	}
	// Device-only members are IPv6 objects, one per device, shared by the
	// groups of both families (memberFamily).
	devLine := regexp.MustCompile(`(?m)^id \d+ dev up[01] scope \w+ proto 211 *$`)
	if out := ns.ip(t, "nexthop", "show"); lines(out) != 4 || len(devLine.FindAllString(out, -1)) != 2 {
		t.Errorf("want 2 groups and 2 dev-only members (one per device, both families'):\n%s", out)
	}
	if out := ns.ip(t, "-4", "nexthop", "show"); devLine.MatchString(out) {
		t.Errorf("an IPv4 dev-only member, which the IPv6 group could not share:\n%s", out)
	}
}

// TestSharedMembersLeave: with device-only members shared by the IPv4 and
// the IPv6 default's groups, a tunnel leaving both is one object steered
// and deleted in the three round trips of SetResilientMany; a member leaving only one of
// the groups stays in the other (that group is replaced, not shrunk by a
// delete), and a member no longer in any group is collected.
func TestSharedMembersLeave(t *testing.T) {
	ns := newNS(t, 3)
	v4, v6 := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	res := []Resilient{{GroupID: testIDs.First, Buckets: 64}, {GroupID: testIDs.First + 1, Buckets: 64}}
	dev := func(idx ...int) []WeightedNexthop {
		var out []WeightedNexthop
		for _, i := range idx {
			out = append(out, WeightedNexthop{LinkIndex: ns.links[i], Weight: 1})
		}
		return out
	}
	set := func(nh4, nh6 []WeightedNexthop) int64 {
		t.Helper()
		n, _ := ns.setMany(t, []Multipath{{Table: testTable, Protocol: testProto, Prefix: v4, Nexthops: nh4},
			{Table: testTable, Protocol: testProto, Prefix: v6, Nexthops: nh6}}, res, Shrink{Steer: true})
		return n
	}
	members := func() map[int]uint32 { // link index → member object
		t.Helper()
		mine, err := ns.h.Nexthops(testProto, testIDs)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int]uint32{}
		for _, o := range mine {
			if o.Group == nil {
				if _, dup := out[o.LinkIndex]; dup {
					t.Errorf("two member objects on device %d: not shared", o.LinkIndex)
				}
				out[o.LinkIndex] = o.ID
			}
		}
		return out
	}
	set(dev(0, 1, 2), dev(0, 1, 2))
	before := members()
	if len(before) != 3 {
		t.Fatalf("3 tunnels in both groups: %d member objects, want 3 shared", len(before))
	}
	if n := set(dev(0, 2), dev(0, 2)); n != 3 {
		t.Errorf("tunnel 1 leaving both groups: %d round trips, want 3 (a dump, one steer, one delete)", n)
	}
	after := members()
	if _, ok := after[ns.links[1]]; ok || after[ns.links[0]] != before[ns.links[0]] || after[ns.links[2]] != before[ns.links[2]] {
		t.Errorf("members before %v, after %v: want only tunnel 1's deleted, the others' IDs kept (their buckets stay)", before, after)
	}
	set(dev(0, 1, 2), dev(0, 1, 2))
	// Tunnel 0 leaves the IPv4 group only: its object must survive in
	// the IPv6 group, so the IPv4 group is replaced instead.
	set(dev(1, 2), dev(0, 1, 2))
	if _, ok := members()[ns.links[0]]; !ok {
		t.Errorf("tunnel 0's member was deleted though the IPv6 group holds it")
	}
	set(dev(1, 2), dev(1, 2))
	if _, ok := members()[ns.links[0]]; ok {
		t.Errorf("tunnel 0's member outlived both groups")
	}
}

// TestReadBackByDevice: reading back an ECMP route in a table that also
// holds many breakout routes asks the kernel only for routes on the ECMP
// route's devices, so a failover does not pay for dumping the breakout set.
func TestReadBackByDevice(t *testing.T) {
	ns := newNS(t, 3)
	ps := realLooking(5000, 1000)
	if _, err := ns.h.Sync(testTable, testProto, viaFamily(ps, ns.links[0])); err != nil {
		t.Fatal(err)
	}
	for i, prefix := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} {
		v6 := prefix.Addr().Is6()
		resilient := Multipath{Table: testTable, Protocol: testProto, Prefix: prefix, Nexthops: ns.weighted(v6, []int{1, 2}, []int{1, 1})}
		if err := ns.h.SetResilient(resilient, testIDs, Resilient{GroupID: testIDs.First + uint32(i)}); err != nil {
			t.Fatal(err)
		}
		for _, oif := range ns.links[1:] {
			f := routeFilter{family: familyOf(prefix.Addr()), table: testTable, proto: testProto, oif: oif}
			got, err := ns.h.multipaths(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Prefix != prefix {
				t.Errorf("routes of table %d on device %d: %d, want only %s (the kernel did not filter by device)", testTable, oif, len(got), prefix)
			}
		}
	}
}

// shareMembers gives another route a group with the same three members.
func (ns *testNS) shareMembers(t *testing.T, v6 bool) {
	other := Multipath{Table: testTable, Protocol: testProto, Prefix: netip.MustParsePrefix("203.0.113.0/24"), Nexthops: ns.weighted(v6, []int{0, 1, 2}, []int{2, 1, 1})}
	if err := ns.h.SetResilient(other, testIDs, Resilient{GroupID: testIDs.First + 3}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if got, _, _ := ns.h.Multipath(testTable, testProto, other.Prefix); len(got.Nexthops) != 3 {
			t.Errorf("the other route sharing the members: %+v, want its 3 nexthops untouched", got)
		}
	})
}

// routeLine is the route's own line in ip route show; the lines after it
// list the group's current members.
func (ns *testNS) routeLine(t *testing.T, prefix netip.Prefix) string {
	fam := "-4"
	if prefix.Addr().Is6() {
		fam = "-6"
	}
	out := ns.ip(t, fam, "route", "show", "table", "100", "proto", "211", "root", prefix.String())
	return strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
}

// assertSurvivorsStay is the flow-stability check: every bucket of a
// surviving member maps to it still, every bucket of the removed one moved.
// It returns how many moved.
func assertSurvivorsStay(t *testing.T, before, after map[int]int, gone int) int {
	t.Helper()
	moved := 0
	for idx, nh := range before {
		switch {
		case nh == gone && after[idx] == gone:
			t.Errorf("bucket %d still maps to removed member %d", idx, gone)
		case nh == gone:
			moved++
		case after[idx] != nh:
			t.Errorf("bucket %d of surviving member %d moved to %d", idx, nh, after[idx])
		}
	}
	return moved
}

// TestSetResilientMany: a tunnel leaving the IPv4 and the IPv6 default's
// groups costs three round trips (one nexthop dump, one batch of steers,
// one of deletes),
// where SetResilient route by route takes four; a route whose change is
// more than members leaving (here a member coming back) is set as
// SetResilient sets it, in the same call.
func TestSetResilientMany(t *testing.T) {
	ns := newNS(t, 3)
	v4, v6 := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	res := []Resilient{{GroupID: testIDs.First, Buckets: 64}, {GroupID: testIDs.First + 1, Buckets: 64}}
	mps := func(idx ...int) []Multipath {
		w := make([]int, len(idx))
		for i := range w {
			w[i] = 1
		}
		return []Multipath{
			{Table: testTable, Protocol: testProto, Prefix: v4, Nexthops: ns.weighted(false, idx, w)},
			{Table: testTable, Protocol: testProto, Prefix: v6, Nexthops: ns.weighted(true, idx, w)},
		}
	}
	steer := Shrink{Steer: true}
	set := func(want []Multipath, how Shrink) (int64, time.Time) {
		t.Helper()
		return ns.setMany(t, want, res, how)
	}
	set(mps(0, 1, 2), steer)
	start := time.Now()
	if n, away := set(mps(0, 2), steer); n != 3 || away.Before(start) {
		t.Errorf("uplink 1 leaving both groups: %d round trips, away at %v: want 3 (a dump, one batch of steers, one of deletes) and the steer's time", n, away.Sub(start))
	}
	if n, away := set(mps(0, 1, 2), steer); n <= 3 || !away.IsZero() {
		t.Errorf("uplink 1 back in both groups: %d round trips, away %v; a member joining cannot take the deletes' path", n, away)
	}
	if n, away := set(mps(0, 2), Shrink{}); n != 2 || !away.IsZero() {
		t.Errorf("uplink 1 leaving both groups unsteered: %d round trips, away %v: want 2 (a dump, one batch of deletes), none", n, away)
	}
	set(mps(0, 1, 2), steer)
	// Route by route, as before: four.
	before := ns.h.Sends()
	for i, mp := range mps(0, 2) {
		if err := ns.h.SetResilient(mp, testIDs, res[i]); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("the same leave route by route: %d round trips", ns.h.Sends()-before)
}

// setMany sets want with SetResilientMany (res[i] is want[i]'s group, how
// its Shrink),
// checks that each route reads back on its group with its next hops, and
// returns the round trips the call took and when its routes stopped using
// the members that left (zero if that was not before its last write).
func (ns *testNS) setMany(t *testing.T, want []Multipath, res []Resilient, how Shrink) (int64, time.Time) {
	t.Helper()
	before := ns.h.Sends()
	errs, away := ns.h.SetResilientMany(want, testIDs, res, how)
	sends := ns.h.Sends() - before
	for i, err := range errs {
		if err != nil {
			t.Fatalf("route %s: %v", want[i].Prefix, err)
		}
	}
	for i, mp := range want {
		got, _, _ := ns.h.Multipath(testTable, testProto, mp.Prefix)
		if diff := cmp.Diff(MultipathState{Prefix: mp.Prefix, GroupID: res[i].GroupID, Nexthops: mp.Nexthops}, got, netipEq); diff != "" {
			t.Errorf("%s read back (-want +got):\n%s", mp.Prefix, diff)
		}
	}
	return sends, away
}

// TestReplaceMultipath: the route written in one round trip, with no read
// first, replacing what the table held; no nexthops deletes it.
func TestReplaceMultipath(t *testing.T) {
	ns := newNS(t, 3)
	prefix := netip.MustParsePrefix("0.0.0.0/0")
	mp := Multipath{Table: testTable, Protocol: testProto, Prefix: prefix, Nexthops: ns.weighted(false, []int{0, 1, 2}, []int{1, 1, 1})}
	if err := ns.h.SetMultipath(mp); err != nil {
		t.Fatal(err)
	}
	mp.Nexthops = mp.Nexthops[1:]
	before := ns.h.Sends()
	if err := ns.h.ReplaceMultipath(mp); err != nil {
		t.Fatal(err)
	}
	if n := ns.h.Sends() - before; n != 1 {
		t.Errorf("ReplaceMultipath: %d round trips, want 1", n)
	}
	got, _, _ := ns.h.Multipath(testTable, testProto, prefix)
	if diff := cmp.Diff(MultipathState{Prefix: prefix, Nexthops: mp.Nexthops}, got, netipEq); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	mp.Nexthops = nil
	if err := ns.h.ReplaceMultipath(mp); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := ns.h.Multipath(testTable, testProto, prefix); found {
		t.Error("no nexthops: the route is still there")
	}
}
