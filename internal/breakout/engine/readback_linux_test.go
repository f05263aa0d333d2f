package engine

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// TestReadBackRestoresKernelState: in a namespace of its own, a breakout
// rule deleted with `ip rule del` and a route deleted with `ip route del`
// are back within one read-back period, counted in status.
func TestReadBackRestoresKernelState(t *testing.T) {
	if !nstest.EnterAs(t, "ubk") {
		return
	}
	setupNet(t)
	p := basePlan(t, t.TempDir())
	p.ReadBack = 300 * time.Millisecond
	p.Sources = []source.Config{{Spec: feed.Spec{Name: "s", Kind: feed.KindStatic, Prefixes: pfxs("198.18.0.0/16", "100.64.0.0/24")}}}
	e := startEngine(t, p)
	defer e.Close(true)
	eventually(t, 2*time.Second, "installed", func() bool { return len(dumpTable(t, DefaultTable)) == 2 })

	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("-4", "rule", "del", "pref", "6100") // fails unless the rule was there
	took := eventually(t, p.ReadBack+time.Second, "the rule back", func() bool {
		return strings.Count(ruleList(t, "6100"), "lookup 6100") == 2
	})
	if r := routeGet(t, netip.MustParseAddr("198.18.3.4")); !strings.Contains(r, "via "+gateway.String()) {
		t.Errorf("ip route get 198.18.3.4 = %q, want via the breakout gateway again", r)
	}
	t.Logf("deleted rule back after %s (read-back every %s)", took.Round(time.Millisecond), p.ReadBack)

	ip("route", "del", "198.18.0.0/16", "table", "6100")
	// The route is back when the repair's write lands; it is counted just
	// after (CI's VM once read status in between: RouteRepairs 0).
	eventually(t, p.ReadBack+time.Second, "the route back and counted", func() bool {
		return len(dumpTable(t, DefaultTable)) == 2 && e.Status().ReadBack.RouteRepairs > 0
	})
	rb := e.Status().ReadBack
	if rb.RuleRepairs != 1 || rb.RouteRepairs != 1 || rb.LastError != "" {
		t.Errorf("read-back status %+v; want one rule and one route repaired", rb)
	}
}
