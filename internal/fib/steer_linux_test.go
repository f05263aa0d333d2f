package fib

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestSteerBeforeDelete: a member leaving both defaults' groups is first
// pointed at a survivor's path (the heaviest member staying in both; the
// kernel notifies the member object changed, its ID kept), and only then
// deleted; the survivors' buckets never move, the leaving member's all do.
func TestSteerBeforeDelete(t *testing.T) {
	ns := newNS(t, 3)
	v4, v6 := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	res := []Resilient{{GroupID: testIDs.First, Buckets: 64}, {GroupID: testIDs.First + 1, Buckets: 64}}
	dev := func(weights ...int) []WeightedNexthop {
		var out []WeightedNexthop
		for i, w := range weights {
			if w > 0 {
				out = append(out, WeightedNexthop{LinkIndex: ns.links[i], Weight: w})
			}
		}
		return out
	}
	set := func(nhs []WeightedNexthop) {
		t.Helper()
		ns.setMany(t, []Multipath{{Table: testTable, Protocol: testProto, Prefix: v4, Nexthops: nhs},
			{Table: testTable, Protocol: testProto, Prefix: v6, Nexthops: nhs}}, res, Shrink{Steer: true})
	}
	set(dev(1, 1, 3))
	leaving := memberOn(t, ns, ns.links[1])
	before := [2]map[int]int{bucketMap(t, ns, res[0].GroupID), bucketMap(t, ns, res[1].GroupID)}

	m := ns.openMonitor(t)
	set(dev(1, 0, 3))
	var order []string
	for _, n := range m.Drain().Nexthops {
		switch {
		case n.ID != leaving:
		case n.Deleted:
			order = append(order, "deleted")
		case n.LinkIndex == ns.links[2]:
			order = append(order, "steered to the heaviest survivor")
		default:
			order = append(order, fmt.Sprintf("changed to device %d", n.LinkIndex))
		}
	}
	if len(order) != 2 || order[0] != "steered to the heaviest survivor" || order[1] != "deleted" {
		t.Errorf("the leaving member %d was notified %q: want steered to the heaviest survivor, then deleted", leaving, order)
	}
	for i, gid := range []uint32{res[0].GroupID, res[1].GroupID} {
		if moved := assertSurvivorsStay(t, before[i], bucketMap(t, ns, gid), int(leaving)); moved == 0 {
			t.Errorf("group %d: no bucket of the leaving member moved", gid)
		}
	}
}

// memberOn is ns's owned single nexthop object on device link.
func memberOn(t *testing.T, ns *testNS, link int) uint32 {
	t.Helper()
	objs, err := ns.h.Nexthops(testProto, testIDs)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Group == nil && o.LinkIndex == link {
			return o.ID
		}
	}
	t.Fatalf("no member object on device %d", link)
	return 0
}
