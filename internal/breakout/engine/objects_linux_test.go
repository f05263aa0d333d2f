package engine

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// nexthopShow is `ip nexthop show`, as a user would read it.
func nexthopShow(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "nexthop", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip nexthop show: %v: %s", err, out)
	}
	return string(out)
}

// TestObjectsFollowTheLink: with the breakout interface named, each
// family's routes point at one nexthop object. The link losing its carrier
// takes the objects and the routes (the kernel's doing: traffic falls back
// to the main table at once); LinkChanged puts them back once the carrier
// returns, without waiting for the read-back. A flush removes the objects.
func TestObjectsFollowTheLink(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	n := setupNet(t)
	e, want := startAWS(t, func(p *Plan) {
		p.Interface = "ue-gw0"
		p.ReadBack = time.Hour // only LinkChanged may put the routes back
	})
	defer e.Close(true)
	id4, id6, _ := fib.ViaObjectIDs(DefaultTable)
	in4 := firstOf(want.Prefixes, false)
	if r := routeGet(t, in4); !strings.Contains(r, "via "+gateway.String()) {
		t.Fatalf("ip route get %s = %q, want via %s", in4, r, gateway)
	}
	nh := nexthopShow(t)
	for _, id := range []uint32{id4, id6} {
		if !strings.Contains(nh, fmt.Sprintf("id %d via ", id)) {
			t.Fatalf("no nexthop object %d:\n%s", id, nh)
		}
	}
	onObject := func() int {
		out, _ := exec.Command("ip", "route", "show", "table", fmt.Sprint(DefaultTable)).CombinedOutput()
		return strings.Count(string(out), fmt.Sprintf("nhid %d ", id4))
	}
	n4 := onObject()
	if n4 == 0 || len(dumpTable(t, DefaultTable)) != len(want.Prefixes) {
		t.Fatalf("%d IPv4 routes on nexthop %d, %d in the table; want all %d on their objects", n4, id4, len(dumpTable(t, DefaultTable)), len(want.Prefixes))
	}

	n.setGateway(t, false) // the peer's end down: ue-gw0 loses its carrier
	eventually(t, 2*time.Second, "the kernel to flush the routes on the objects", func() bool { return onObject() == 0 })
	if r := routeGet(t, in4); !strings.Contains(r, "via "+hubGW.String()) {
		t.Errorf("carrier lost: ip route get %s = %q, want the main table's default via %s", in4, r, hubGW)
	}
	n.setGateway(t, true)
	eventually(t, 2*time.Second, "the carrier", func() bool {
		out, _ := exec.Command("ip", "link", "show", "ue-gw0").CombinedOutput()
		return !strings.Contains(string(out), "NO-CARRIER")
	})
	e.LinkChanged()
	took := eventually(t, 5*time.Second, "the routes back on their objects", func() bool { return onObject() == n4 })
	t.Logf("carrier back: %d IPv4 routes on nexthop %d again %s after LinkChanged", n4, id4, took.Round(time.Millisecond))
	if got := dumpTable(t, DefaultTable); !samePrefixes(want.Prefixes, got) {
		t.Fatalf("after the carrier returned the table holds %d routes, want %d", len(got), len(want.Prefixes))
	}

	if err := e.Close(true); err != nil {
		t.Fatalf("Close(flush): %v", err)
	}
	if nh := nexthopShow(t); strings.Contains(nh, fmt.Sprintf("id %d ", id4)) || strings.Contains(nh, fmt.Sprintf("id %d ", id6)) {
		t.Errorf("after a flush the nexthop objects remain:\n%s", nh)
	}
}
