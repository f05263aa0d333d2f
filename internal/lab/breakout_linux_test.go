package lab

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
)

// routeVia answers `ip route get` on the edge (nothing is sent).
func routeVia(t *testing.T, l *Lab, addr string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", l.NS("home"), "route", "get", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("ip route get %s: %v: %s", addr, err, out)
	}
	return strings.TrimSpace(string(out))
}

// waitBreakout waits until the edge's status shows every source fresh.
func waitBreakout(t *testing.T, l *Lab) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := status(t, l, "edge")
		fresh := st.Breakout != nil && len(st.Breakout.Sources) == 3
		for _, s := range st.Breakout.Sources {
			fresh = fresh && !s.LastSuccess.IsZero() && !s.Stale
		}
		if fresh && st.Breakout.Compile.Installed > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("breakout sources not all fetched within 20 s: %+v", st.Breakout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBreakoutAndTunnelPaths(t *testing.T) {
	l := needLab(t)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	waitBreakout(t, l)
	if seen, err := l.WhoAmI("lan", MediaAddr); err != nil || seen != FiveGPublic {
		t.Errorf("ul-media sees ul-lan as %q (%v), want the 5G router's %s", seen, err, FiveGPublic)
	}
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || seen != HubPublic {
		t.Errorf("ul-web sees ul-lan as %q (%v), want the hub's %s", seen, err, HubPublic)
	}
}

// Real AWS ranges from the feed the lab serves: every EC2 ap-northeast-1
// prefix leaves by the 5G router, an address of another region by the
// tunnels.
func TestBreakoutRoutesRealAWSRanges(t *testing.T) {
	l := needLab(t)
	waitBreakout(t, l)
	body, err := feedFiles.ReadFile("feeds/aws-ip-ranges.json")
	if err != nil {
		t.Fatal(err)
	}
	tokyo, err := feed.ParseAWS(body, feed.AWSFilter{Services: []string{"EC2"}, Regions: []string{"ap-northeast-1"}})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range tokyo {
		if !e.Prefix().Addr().Is4() {
			continue // the lab's 5G router has no IPv6
		}
		if got := routeVia(t, l, e.Prefix().Addr().Next().String()); !strings.Contains(got, "via "+BreakoutGW+" dev breakout table 6100") {
			t.Errorf("%s (%s): %s", e.Prefix(), e, got)
		}
		checked++
	}
	t.Logf("%d EC2 ap-northeast-1 IPv4 prefixes route via the 5G router", checked)
	if checked < 50 {
		t.Errorf("only %d prefixes checked; the fixture has more", checked)
	}
	elsewhere, err := feed.ParseAWS(body, feed.AWSFilter{Services: []string{"S3"}, Regions: []string{"us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range elsewhere[:5] {
		a := e.Prefix().Addr().Next()
		if covered(tokyo, a) {
			continue
		}
		if got := routeVia(t, l, a.String()); strings.Contains(got, "breakout") || !strings.Contains(got, "dev wg") {
			t.Errorf("us-east-1 S3 %s should take the tunnels: %s", a, got)
		}
	}
}

func covered(es []breakout.Entry, a netip.Addr) bool {
	for _, e := range es {
		if e.Prefix().Contains(a) {
			return true
		}
	}
	return false
}

func TestBreakoutGatewayDownFallsBackToHub(t *testing.T) {
	l := needLab(t)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	waitBreakout(t, l)
	fiveG := l.NS("5g")
	if out, err := exec.Command("ip", "-n", fiveG, "link", "set", "lan0", "down").CombinedOutput(); err != nil {
		t.Fatal(string(out))
	}
	restored := false
	restore := func() {
		if !restored {
			exec.Command("ip", "-n", fiveG, "link", "set", "lan0", "up").Run()
			restored = true
		}
	}
	defer restore()
	// The 5G router's link going down takes the edge's link's carrier,
	// and the kernel the routes on the breakout table's nexthop objects;
	// the health check then withdraws breakout (status says so) until the
	// router answers again.
	start := time.Now()
	for status(t, l, "edge").Breakout.Withdrawn == "" {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("status does not say breakout is withdrawn 5 s after the 5G router went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("gateway down: breakout withdrawn after %s", time.Since(start).Round(time.Millisecond))
	if r := routeVia(t, l, MediaAddr); strings.Contains(r, "breakout") {
		t.Errorf("breakout withdrawn but ul-media still routes %q", r)
	}
	if seen, err := l.WhoAmI("lan", MediaAddr); err != nil || seen != HubPublic {
		t.Errorf("with the 5G router down ul-media sees %q (%v), want the hub's %s", seen, err, HubPublic)
	}

	restore()
	start = time.Now()
	for !strings.Contains(routeVia(t, l, MediaAddr), "breakout") {
		if time.Since(start) > 10*time.Second {
			t.Fatal("breakout not back 10 s after the 5G router returned")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("gateway back: breakout reinstalled after %s", time.Since(start).Round(time.Millisecond))
	if seen, err := l.WhoAmI("lan", MediaAddr); err != nil || seen != FiveGPublic {
		t.Errorf("after the 5G router returned ul-media sees %q (%v), want %s", seen, err, FiveGPublic)
	}
}
