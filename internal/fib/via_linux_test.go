package fib

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// viaTestSet is n IPv4 /24s and m IPv6 /48s through uplink 0 of ns.
func viaTestSet(ns *testNS, n, m int, objects bool) ViaSet {
	var ps []netip.Prefix
	for i := range n {
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(i>>8), byte(i), 0}), 24))
	}
	for i := range m {
		ps = append(ps, netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", 0x100+i)))
	}
	return ViaSet{Prefixes: ps, Objects: objects,
		Nexthop4: Nexthop{Gateway: gw4(0), LinkIndex: ns.links[0]},
		Nexthop6: Nexthop{Gateway: gw6(0), LinkIndex: ns.links[0]}}
}

// routesOn counts the routes of the test table that `ip route` shows
// through nexthop object id.
func routesOn(t *testing.T, ns *testNS, family string, id uint32) int {
	t.Helper()
	out := ns.ip(t, family, "route", "show", "table", fmt.Sprint(testTable), "proto", fmt.Sprint(testProto))
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, fmt.Sprintf("nhid %d ", id)) {
			n++
		}
	}
	return n
}

// TestSyncViaObjects: a ViaSet with Objects routes every prefix of a family
// through one nexthop object, which Sync keeps: a new gateway is one change
// of the object (no route rewritten), an object deleted or changed behind
// its back comes back with its routes, and turning Objects off, or a family
// leaving the set, takes the object away.
func TestSyncViaObjects(t *testing.T) {
	ns := newNS(t, 2)
	id4, id6, _ := ViaObjectIDs(testTable)
	set := viaTestSet(ns, 300, 20, true)
	sync := func(step string, v ViaSet, want SyncStats) {
		t.Helper()
		st, err := ns.h.SyncSet(testTable, testProto, v)
		if err != nil || st != want {
			t.Fatalf("%s: %+v %v, want %+v", step, st, err, want)
		}
	}
	sync("install", set, SyncStats{Added: 320})
	if n4, n6 := routesOn(t, ns, "-4", id4), routesOn(t, ns, "-6", id6); n4 != 300 || n6 != 20 {
		t.Fatalf("routes on nhid %d: %d, on nhid %d: %d; want 300 and 20", id4, n4, id6, n6)
	}
	if out := ns.ip(t, "nexthop", "show", "id", fmt.Sprint(id4)); !strings.Contains(out, "via "+gw4(0).String()) || !strings.Contains(out, fmt.Sprintf("proto %d", testProto)) {
		t.Fatalf("nexthop %d: %q, want via %s proto %d", id4, out, gw4(0), testProto)
	}
	rs, err := ns.h.Dump(testTable, testProto)
	if err != nil || len(rs) != 320 || rs[0].Nexthop.Object != id4 {
		t.Fatalf("dump: %d routes, first %v (%v); want 320 on their objects", len(rs), rs, err)
	}
	sync("again", set, SyncStats{Unchanged: 320})

	// A new gateway: the object changes, every route follows, none is rewritten.
	moved := set
	moved.Nexthop4 = Nexthop{Gateway: gw4(1), LinkIndex: ns.links[1]}
	sync("new gateway", moved, SyncStats{Unchanged: 320})
	if out := ns.ip(t, "route", "show", "table", fmt.Sprint(testTable), "198.18.1.0/24"); !strings.Contains(out, "via "+gw4(1).String()) {
		t.Fatalf("after the gateway moved, the route: %q, want via %s", out, gw4(1))
	}

	// Drift: the object changed behind Sync's back, then deleted (the
	// kernel takes its routes with it).
	ns.ip(t, "nexthop", "replace", "id", fmt.Sprint(id4), "via", gw4(0).String(), "dev", "up0", "proto", fmt.Sprint(testProto))
	sync("object changed", moved, SyncStats{Unchanged: 320})
	if out := ns.ip(t, "nexthop", "show", "id", fmt.Sprint(id4)); !strings.Contains(out, "via "+gw4(1).String()) {
		t.Fatalf("object changed behind Sync: %q, want via %s again", out, gw4(1))
	}
	ns.ip(t, "nexthop", "del", "id", fmt.Sprint(id4))
	sync("object deleted", moved, SyncStats{Added: 300, Unchanged: 20})
	if n := routesOn(t, ns, "-4", id4); n != 300 {
		t.Fatalf("object deleted: %d routes back on it, want 300", n)
	}

	// The IPv6 family leaves: its object goes.
	only4 := moved
	only4.Prefixes = moved.Prefixes[:300]
	sync("ipv6 gone", only4, SyncStats{Deleted: 20, Unchanged: 300})
	if out := ns.ip(t, "nexthop", "show"); strings.Contains(out, fmt.Sprintf("id %d ", id6)) {
		t.Fatalf("IPv6 object left after its family left: %q", out)
	}

	// Objects off: plain routes replace them, the object goes.
	plain := only4
	plain.Objects = false
	sync("objects off", plain, SyncStats{Replaced: 300})
	if n := routesOn(t, ns, "-4", id4); n != 0 {
		t.Fatalf("objects off: %d routes still on nhid %d", n, id4)
	}
	if out := ns.ip(t, "nexthop", "show"); strings.Contains(out, fmt.Sprintf("id %d ", id4)) {
		t.Fatalf("object left with objects off: %q", out)
	}
	// And on again: plain routes move onto the object.
	sync("objects on", only4, SyncStats{Replaced: 300})
	sync("flush", ViaSet{Objects: true}, SyncStats{Deleted: 300})
	if out := ns.ip(t, "nexthop", "show"); strings.Contains(out, fmt.Sprintf("id %d ", id4)) {
		t.Fatalf("object left after the set emptied: %q", out)
	}
}

// TestViaObjectsLeaveOthersAlone: an ID of the range held by an object that
// is not Sync's (another protocol) is never changed: that family keeps
// plain routes. A nexthop without a device cannot be an object.
func TestViaObjectsLeaveOthersAlone(t *testing.T) {
	ns := newNS(t, 1)
	id4, _, _ := ViaObjectIDs(testTable)
	ns.ip(t, "nexthop", "add", "id", fmt.Sprint(id4), "via", gw4(0).String(), "dev", "up0", "proto", "static")
	set := viaTestSet(ns, 10, 0, true)
	if st, err := ns.h.SyncSet(testTable, testProto, set); err != nil || st.Added != 10 {
		t.Fatalf("sync: %+v %v", st, err)
	}
	if n := routesOn(t, ns, "-4", id4); n != 0 {
		t.Fatalf("%d routes on another protocol's object", n)
	}
	if out := ns.ip(t, "nexthop", "show", "id", fmt.Sprint(id4)); !strings.Contains(out, "proto static") {
		t.Fatalf("someone else's object changed: %q", out)
	}
	noDev := set
	noDev.Nexthop4.LinkIndex = 0
	if st, err := ns.h.SyncSet(testTable+1, testProto, noDev); err != nil || st.Added != 10 {
		t.Fatalf("sync without a device: %+v %v", st, err)
	}
	id4b, _, _ := ViaObjectIDs(testTable + 1)
	if out := ns.ip(t, "nexthop", "show"); strings.Contains(out, fmt.Sprintf("id %d ", id4b)) {
		t.Fatalf("an object made for a nexthop without a device: %q", out)
	}
}

// TestViaObjectsTableOutOfRange: a table with no nexthop object IDs of its
// own (2^20 and up) gets plain routes; it never takes the objects of the
// table 2^20 below it, whose routes would follow its gateway.
func TestViaObjectsTableOutOfRange(t *testing.T) {
	ns := newNS(t, 2)
	low, high := uint32(testTable), uint32(testTable+1<<20)
	id4, _, _ := ViaObjectIDs(low)
	if _, _, ok := ViaObjectIDs(high); ok {
		t.Fatalf("table %d has nexthop object IDs, want none", high)
	}
	if st, err := ns.h.SyncSet(low, testProto, viaTestSet(ns, 10, 0, true)); err != nil || st.Added != 10 {
		t.Fatalf("sync table %d: %+v %v", low, st, err)
	}
	other := viaTestSet(ns, 10, 0, true)
	other.Nexthop4 = Nexthop{Gateway: gw4(1), LinkIndex: ns.links[1]}
	if st, err := ns.h.SyncSet(high, testProto, other); err != nil || st.Added != 10 {
		t.Fatalf("sync table %d: %+v %v", high, st, err)
	}
	out := ns.ip(t, "-4", "route", "show", "table", fmt.Sprint(high), "proto", fmt.Sprint(testProto))
	if strings.Contains(out, "nhid") || strings.Count(out, "via "+gw4(1).String()+" dev up1") != 10 {
		t.Fatalf("table %d: want 10 plain routes via %v dev up1:\n%s", high, gw4(1), out)
	}
	if n := routesOn(t, ns, "-4", id4); n != 10 {
		t.Fatalf("table %d: %d routes on nhid %d, want 10", low, n, id4)
	}
	if nh := ns.ip(t, "nexthop", "show", "id", fmt.Sprint(id4)); !strings.Contains(nh, "via "+gw4(0).String()+" dev up0") {
		t.Fatalf("table %d's object changed by table %d's set: %q", low, high, nh)
	}
	// The plain routes are Sync's own: an emptied set takes them all.
	if st, err := ns.h.SyncSet(high, testProto, ViaSet{Objects: true}); err != nil || st.Deleted != 10 {
		t.Fatalf("flush table %d: %+v %v", high, st, err)
	}
}
