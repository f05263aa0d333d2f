package engine

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// TestGatewayDown: a gateway that stops answering loses the rule (traffic
// falls back to main) while the table keeps its routes; back, the rule
// returns.
func TestGatewayDown(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	n := setupNet(t)
	p := basePlan(t, t.TempDir())
	p.Health = Health{Interval: 100 * time.Millisecond, Timeout: 80 * time.Millisecond, DownAfter: 3, UpAfter: 2}
	p.Sources = []source.Config{{Spec: feed.Spec{Name: "static", Kind: feed.KindStatic,
		Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.0.0/16")}}}}
	e := startEngine(t, p)
	defer e.Close(true)
	in := netip.MustParseAddr("198.19.1.1")
	viaGW := func() bool { return strings.Contains(routeGet(t, in), "via "+gateway.String()) }
	eventually(t, 3*time.Second, "breakout installed and gateway answering", func() bool {
		g := e.Status().Gateway
		return viaGW() && g.Healthy && g.LastRTT > 0
	})
	t.Logf("gateway healthy, rtt %s", e.Status().Gateway.LastRTT)

	n.setGateway(t, false)
	limit := time.Duration(p.Health.DownAfter)*p.Health.Interval + time.Second
	took := eventually(t, limit, "rule withdrawn", func() bool { return ruleList(t, "6100") == "" })
	t.Logf("gateway down: rule withdrawn after %s", took.Round(time.Millisecond))
	if r := routeGet(t, in); !strings.Contains(r, "via "+hubGW.String()) {
		t.Errorf("gateway down: ip route get %s = %q, want main via %s", in, r, hubGW)
	}
	if got := dumpTable(t, DefaultTable); len(got) != 1 {
		t.Errorf("gateway down: table holds %d routes, want the 1 kept", len(got))
	}
	st := e.Status()
	if st.Withdrawn != "withdrawn: gateway down" || st.Gateway.Healthy || st.Compile.RulePresent {
		t.Errorf("status withdrawn %q, gateway %+v, rule present %v", st.Withdrawn, st.Gateway, st.Compile.RulePresent)
	}
	if x, ok := e.Explain(in); !ok || x.Withdrawn == "" {
		t.Errorf("Explain while down = %+v, %v; want the route, marked withdrawn", x, ok)
	}

	n.setGateway(t, true)
	limit = time.Duration(p.Health.UpAfter)*p.Health.Interval + 3*time.Second
	took = eventually(t, limit, "rule restored", viaGW)
	t.Logf("gateway back: rule restored after %s", took.Round(time.Millisecond))
	if st := e.Status(); st.Withdrawn != "" || !st.Compile.RulePresent {
		t.Errorf("gateway back: status withdrawn %q, rule present %v", st.Withdrawn, st.Compile.RulePresent)
	}
}

// TestLinkFlapRestoresRoutes: taking the gateway's own device down makes
// the kernel delete every route through it; when the gateway answers again
// the engine puts them back (the kernel does not).
func TestLinkFlapRestoresRoutes(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	setupNet(t)
	p := basePlan(t, t.TempDir())
	p.Health = Health{Interval: 100 * time.Millisecond, Timeout: 80 * time.Millisecond, DownAfter: 2, UpAfter: 2}
	p.Sources = []source.Config{{Spec: feed.Spec{Name: "static", Kind: feed.KindStatic,
		Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.0.0/16"), netip.MustParsePrefix("198.18.128.0/17")}}}}
	e := startEngine(t, p)
	defer e.Close(true)
	eventually(t, 3*time.Second, "installed", func() bool { return len(dumpTable(t, DefaultTable)) == 2 })

	setLink(t, "ue-gw0", false)
	eventually(t, 3*time.Second, "routes gone with the device", func() bool { return len(dumpTable(t, DefaultTable)) == 0 })
	eventually(t, 3*time.Second, "withdrawn", func() bool { return e.Status().Withdrawn != "" })
	setLink(t, "ue-gw0", true)
	took := eventually(t, 5*time.Second, "routes and rule back", func() bool {
		return len(dumpTable(t, DefaultTable)) == 2 && ruleList(t, "6100") != ""
	})
	t.Logf("device back: routes and rule restored after %s", took.Round(time.Millisecond))
	if c := e.Status().Compile; c.Added != 2 {
		t.Errorf("restoring sync added %d, want 2", c.Added)
	}
}

func setLink(t *testing.T, name string, upDown bool) {
	t.Helper()
	l := mustLink(t, &netlink.Handle{}, name)
	f := netlink.LinkSetDown
	if upDown {
		f = netlink.LinkSetUp
	}
	if err := f(l); err != nil {
		t.Fatalf("link %s up=%v: %v", name, upDown, err)
	}
}
