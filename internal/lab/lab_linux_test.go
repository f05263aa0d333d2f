package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// These tests run the real daemons in a lab tagged "t" (namespaces ult-*,
// /run/uplinkd-labt), so they can run beside a demo lab.

var testLab *Lab

func TestMain(m *testing.M) {
	os.Exit(runLab(m))
}

func runLab(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Println("lab tests skipped: they need root to build network namespaces (run `sudo make test`)")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "uplinkd-labtest")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // a test runs the CLI as another user
	if labBinary, err = labBinaries(dir); err != nil {
		fmt.Println(err)
		return 1
	}
	if os.Getenv(onlyEnv) == "kernel" {
		fmt.Printf("%s=kernel: the kernel WireGuard labs only, no ult lab\n", onlyEnv)
		return m.Run()
	}
	testLab = New(Options{Tag: "t", Binary: labBinary})
	start := time.Now()
	var progress bytes.Buffer
	if err := testLab.Up(context.Background(), &progress); err != nil {
		fmt.Printf("lab up: %v\n%s", err, progress.String())
		return 1
	}
	fmt.Printf("lab up with three handshakes in %s\n", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	if code != 0 {
		for _, site := range []string{"edge", "hub"} {
			fmt.Printf("--- %s log:\n%s\n", site, Tail(testLab.LogPath(site), 40))
		}
	}
	if code != 0 && hubLab != nil {
		for _, site := range hubLab.Sites() {
			fmt.Printf("--- two-hub lab %s log:\n%s\n", site, Tail(hubLab.LogPath(site), 30))
		}
	}
	if err := errors.Join(testLab.Down(), downHubLab()); err != nil {
		fmt.Printf("lab down: %v\n", err)
		return 1
	}
	for _, l := range []*Lab{testLab, hubLab} {
		if l == nil {
			continue
		}
		if leftover := leftovers(l); leftover != "" {
			fmt.Printf("lab down left: %s\n", leftover)
			return 1
		}
	}
	return code
}

// leftovers lists what a torn-down lab must not leave behind.
func leftovers(l *Lab) string {
	var left []string
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, l.NS("")) {
			left = append(left, "namespace "+strings.Fields(line)[0])
		}
	}
	names := []string{l.Edge2Tunnel(), l.HubEdge2Tunnel()}
	for _, c := range Carriers {
		for _, site := range l.HubSites() {
			names = append(names, l.EdgeTunnelTo(site, c), l.HubTunnelOf(site, c))
		}
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join("/var/run/wireguard", n+".sock")); err == nil {
			left = append(left, "socket "+n)
		}
	}
	if _, err := os.Stat(l.Dir); err == nil {
		left = append(left, "directory "+l.Dir)
	}
	return strings.Join(left, ", ")
}

func needLab(t *testing.T) *Lab {
	t.Helper()
	if testLab == nil && labBinary != "" {
		t.Skipf("the ult lab is not built (%s=%s)", onlyEnv, os.Getenv(onlyEnv))
	}
	if testLab == nil {
		t.Skip("needs root: the lab builds network namespaces")
	}
	return testLab
}

func inNS(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

func status(t *testing.T, l *Lab, site string) api.Status {
	t.Helper()
	st, err := api.NewClient(l.Socket(site)).Status()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func tunnelOf(t *testing.T, st api.Status, carrier string) wg.TunnelStatus {
	t.Helper()
	for _, tu := range st.Tunnels {
		if tu.Uplink == carrier {
			return tu
		}
	}
	t.Fatalf("%s has no tunnel for %s: %+v", st.Site, carrier, st.Tunnels)
	return wg.TunnelStatus{}
}

func ping(ns, addr string) error {
	out, err := inNS(ns, "ping", "-c", "1", "-W", "1", addr)
	if err != nil {
		return fmt.Errorf("ping %s from %s: %v: %s", addr, ns, err, strings.TrimSpace(out))
	}
	return nil
}

func TestEveryTunnelCarriesPackets(t *testing.T) {
	l := needLab(t)
	for i, c := range Carriers {
		hub4, _, hub6, _ := TunnelAddrs(i)
		for _, a := range []string{hub4, hub6} {
			if err := ping(l.NS("home"), a); err != nil {
				t.Errorf("%s tunnel: %v", c, err)
			}
		}
	}
}

// The proof of pinning: the hub sees each tunnel arrive from a different
// carrier's public (CGN) address, and from the right one.
func TestHubSeesEachTunnelFromItsCarrier(t *testing.T) {
	l := needLab(t)
	hub := status(t, l, "hub")
	for i, c := range Carriers {
		tu := tunnelOf(t, hub, c)
		if !strings.HasPrefix(tu.Endpoint, CarrierPublic(i)+":") {
			t.Errorf("hub sees %s tunnel from %s, want %s:*", c, tu.Endpoint, CarrierPublic(i))
		}
		if tu.LastHandshake.IsZero() {
			t.Errorf("hub %s: no handshake", tu.Name)
		}
	}
}

func TestWgShowListsEdgeTunnels(t *testing.T) {
	l := needLab(t)
	out, err := inNS(l.NS("home"), "wg", "show")
	if err != nil {
		t.Skipf("wg(8) from wireguard-tools is not installed: %v", err)
	}
	for _, c := range Carriers {
		block := section(out, "interface: "+l.EdgeTunnel(c))
		if block == "" {
			t.Errorf("wg show lacks %s:\n%s", l.EdgeTunnel(c), out)
			continue
		}
		if !strings.Contains(block, "latest handshake:") || !strings.Contains(block, fmt.Sprintf("endpoint: %s:", HubPublic)) {
			t.Errorf("wg show %s has no recent handshake with the hub:\n%s", l.EdgeTunnel(c), block)
		}
	}
}

// section returns one interface's block of `wg show` output.
func section(out, header string) string {
	i := strings.Index(out, header)
	if i < 0 {
		return ""
	}
	rest := out[i+len(header):]
	if j := strings.Index(rest, "\ninterface: "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func TestCarrierDownBreaksOnlyItsTunnel(t *testing.T) {
	l := needLab(t)
	home := l.NS("home")
	before := tunnelOf(t, status(t, l, "hub"), "softbank")
	if out, err := inNS(home, "ip", "link", "set", "wwan-softbank", "down"); err != nil {
		t.Fatal(out)
	}
	restored := false
	restore := func() {
		if !restored {
			inNS(home, "ip", "link", "set", "wwan-softbank", "up")
			restored = true
		}
	}
	defer restore()

	docomo, _, _, _ := TunnelAddrs(0)
	softbank, _, _, _ := TunnelAddrs(1)
	rakuten, _, _, _ := TunnelAddrs(2)
	if err := ping(home, softbank); err == nil {
		t.Error("softbank tunnel still answers with its carrier link down")
	}
	for _, a := range []string{docomo, rakuten} {
		if err := ping(home, a); err != nil {
			t.Errorf("another carrier's tunnel broke: %v", err)
		}
	}
	// Give the edge time to retry handshakes; none may leave by another
	// carrier (the hub would then see softbank's tunnel roam).
	time.Sleep(3 * time.Second)
	during := tunnelOf(t, status(t, l, "hub"), "softbank")
	if during.Endpoint != before.Endpoint {
		t.Errorf("softbank tunnel moved to another carrier while its link was down: %s -> %s", before.Endpoint, during.Endpoint)
	}
	if during.LastHandshake.After(before.LastHandshake) {
		t.Errorf("softbank tunnel made a handshake with its carrier link down (at %s)", during.LastHandshake)
	}
	table, _ := inNS(home, "ip", "route", "show", "table", "6002")
	if !strings.Contains(table, "unreachable default") || strings.Contains(table, "via") {
		t.Errorf("softbank table with its link down:\n%s", table)
	}

	restore()
	start := time.Now()
	for {
		if ping(home, softbank) == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
		if time.Since(start) > 20*time.Second {
			t.Fatal("softbank tunnel did not recover within 20 s of its link coming back")
		}
	}
	t.Logf("softbank tunnel answered again %s after its link came back", time.Since(start).Round(time.Millisecond))
	after := tunnelOf(t, status(t, l, "hub"), "softbank")
	if !strings.HasPrefix(after.Endpoint, CarrierPublic(1)+":") {
		t.Errorf("after recovery the hub sees softbank from %s, want %s", after.Endpoint, CarrierPublic(1))
	}
}

// A crash leaves routes and rules behind (and, for a userspace device, a
// stale UAPI socket); the restarted daemon must end with exactly one of each.
func TestKillAndRestartLeavesOneOfEach(t *testing.T) {
	l := needLab(t)
	home := l.NS("home")
	if err := l.Kill("edge"); err != nil {
		t.Fatal(err)
	}
	if err := l.Start("edge"); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitHandshakes(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []string{"-4", "-6"} {
		rules, _ := inNS(home, "ip", fam, "rule", "show")
		if n := strings.Count(rules, "fwmark 0x600"); n != 3 {
			t.Errorf("ip %s rule: %d pin rules, want 3:\n%s", fam, n, rules)
		}
		if n := strings.Count(rules, "fwmark 0x6201 lookup 6201"); n != 1 {
			t.Errorf("ip %s rule: %d return-path rules, want 1:\n%s", fam, n, rules)
		}
		if n := strings.Count(rules, "lookup 6100 proto 211"); n != 1 {
			t.Errorf("ip %s rule: %d breakout rules, want 1:\n%s", fam, n, rules)
		}
	}
	for i := range Carriers {
		table := fmt.Sprint(6001 + i)
		v4, _ := inNS(home, "ip", "route", "show", "table", table)
		if n := strings.Count(strings.TrimSpace(v4), "\n") + 1; n != 2 {
			t.Errorf("table %s: %d routes, want the carrier default and the unreachable floor:\n%s", table, n, v4)
		}
		v6, _ := inNS(home, "ip", "-6", "route", "show", "table", table)
		if n := strings.Count(v6, "unreachable default"); n != 1 {
			t.Errorf("ipv6 table %s:\n%s", table, v6)
		}
	}
	links, _ := inNS(home, "ip", "-o", "link", "show")
	for _, c := range Carriers {
		if n := strings.Count(links, ": "+l.EdgeTunnel(c)+":"); n != 1 {
			t.Errorf("%d links named %s, want 1", n, l.EdgeTunnel(c))
		}
	}
	for i := range Carriers {
		hub4, _, _, _ := TunnelAddrs(i)
		if err := ping(home, hub4); err != nil {
			t.Error(err)
		}
	}
	// The ECMP routes and their groups were adopted, not duplicated: one
	// resilient group per default route and one member per next hop.
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	waitRoute(t, l, "home", "::/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	if problem := groupsProblem(home); problem != "" {
		t.Errorf("after kill -9 and restart: %s", problem)
	}
	routes, _ := inNS(home, "ip", "route", "show", "default")
	if n := strings.Count(routes, "default"); n != 1 {
		t.Errorf("%d default routes, want 1:\n%s", n, routes)
	}
}

func TestDemoTableAndStatusCommand(t *testing.T) {
	l := needLab(t)
	var b bytes.Buffer
	if err := l.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for i, c := range Carriers {
		if !strings.Contains(b.String(), c) || !strings.Contains(b.String(), CarrierPublic(i)+":") {
			t.Errorf("demo table lacks %s seen from %s:\n%s", c, CarrierPublic(i), b.String())
		}
	}
	out, err := exec.Command(l.Binary, "status", "-c", l.ConfigPath("edge")).CombinedOutput()
	if err != nil {
		t.Fatalf("uplinkd status: %v\n%s", err, out)
	}
	for _, c := range Carriers {
		if !strings.Contains(string(out), l.EdgeTunnel(c)) {
			t.Errorf("status lacks %s:\n%s", l.EdgeTunnel(c), out)
		}
	}
	out, err = exec.Command(l.Binary, "check", "-c", l.ConfigPath("hub")).CombinedOutput()
	if err != nil {
		t.Errorf("uplinkd check of the lab's hub config: %v\n%s", err, out)
	}
}

// groupsProblem says what is wrong with the ECMP controller's nexthop
// objects in ns ("" when nothing): a resilient group for each route that
// uses one, both defaults in the ECMP table and in each published
// services' reply table, and one member per tunnel shared by them all
// (ecmp's kernelForm). A kernel without resilient groups has none.
func groupsProblem(ns string) string {
	nh, _ := inNS(ns, "ip", "nexthop", "show")
	groups, members := ecmpNexthops(nh)
	if groups == 0 {
		return ""
	}
	routes := 0
	for _, family := range []string{"-4", "-6"} {
		out, _ := inNS(ns, "ip", family, "route", "show", "table", "all", "proto", fmt.Sprint(config.RouteProtocol))
		for _, m := range nhidOf.FindAllStringSubmatch(out, -1) {
			var id uint32
			if fmt.Sscan(m[1], &id); !fib.ViaObjects.Contains(id) {
				routes++
			}
		}
	}
	if routes < 2 || groups != routes || members != len(Carriers) {
		return fmt.Sprintf("%d resilient groups for %d routes through one, and %d member next hops: want a group per route (at least both defaults) and %d members:\n%s",
			groups, routes, members, len(Carriers), nh)
	}
	return ""
}

var nhidOf = regexp.MustCompile(`\bnhid (\d+)`)

// ecmpNexthops counts the ECMP controller's resilient groups and their
// member objects in `ip nexthop show`; the breakout table's own nexthop
// objects (fib.ViaObjects) are not members.
func ecmpNexthops(nh string) (groups, members int) {
	for _, l := range strings.Split(nh, "\n") {
		var id uint32
		if _, err := fmt.Sscanf(l, "id %d ", &id); err != nil || fib.ViaObjects.Contains(id) {
			continue
		}
		switch {
		case strings.Contains(l, "type resilient"):
			groups++
		case strings.Contains(l, " dev "):
			members++
		}
	}
	return groups, members
}
