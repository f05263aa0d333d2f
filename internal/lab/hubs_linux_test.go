package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
)

// The multi-hub lab (ulm-*): two hubs, the edge active-active over six
// tunnels, the last resort through the 5G router. Built on first use,
// torn down by TestMain.
var (
	hubLabOnce sync.Once
	hubLab     *Lab
	hubLabErr  error
)

func needHubLab(t *testing.T) *Lab {
	t.Helper()
	l := needLab(t)
	hubLabOnce.Do(func() {
		hubLab = New(Options{Tag: "m", Binary: l.Binary, Hubs: 2, SecondEdge: true})
		var progress bytes.Buffer
		start := time.Now()
		if hubLabErr = hubLab.Up(context.Background(), &progress); hubLabErr != nil {
			hubLabErr = fmt.Errorf("%w\n%s", hubLabErr, progress.String())
			return
		}
		t.Logf("two-hub lab up in %s", time.Since(start).Round(time.Millisecond))
	})
	if hubLabErr != nil {
		t.Fatalf("two-hub lab: %v", hubLabErr)
	}
	return hubLab
}

// downHubLab tears the two-hub lab down if a test built it.
func downHubLab() error {
	if hubLab == nil {
		return nil
	}
	return hubLab.Down()
}

// defaultVia lists the interfaces of the edge's IPv4 default, as the
// kernel has it.
func defaultVia(t *testing.T, l *Lab) []string {
	t.Helper()
	out, err := exec.Command("ip", "-n", l.NS("home"), "route", "show", "0.0.0.0/0").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route: %v: %s", err, out)
	}
	var devs []string
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			devs = append(devs, f[i+1])
		}
	}
	return devs
}

// waitDefault waits until the edge's default leaves exactly by want.
func waitDefault(t *testing.T, l *Lab, want []string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var got []string
	for time.Since(start) < limit {
		got = defaultVia(t, l)
		if sameSet(got, want) {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("edge default via %v, want %v (after %s)", got, want, limit)
	return 0
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func tunnelsTo(l *Lab, sites ...string) []string {
	var out []string
	for _, s := range sites {
		for _, c := range Carriers {
			out = append(out, l.EdgeTunnelTo(s, c))
		}
	}
	return out
}

// setEdgeConfig rewrites the edge's file with edit and reloads it.
func setEdgeConfig(t *testing.T, l *Lab, edit func(string) string) {
	t.Helper()
	b, err := os.ReadFile(l.ConfigPath("edge"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.ConfigPath("edge"), []byte(edit(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload("edge"); err != nil {
		t.Fatal(err)
	}
}

// TestTwoHubsActiveActiveThenPrimaryBackup: both hubs equal, the default
// has a next hop per carrier and hub; hub2 made a backup (preference 50,
// SIGHUP), only the primary's three; equal again, all six.
func TestTwoHubsActiveActiveThenPrimaryBackup(t *testing.T) {
	l := needHubLab(t)
	waitDefault(t, l, tunnelsTo(l, "hub", "hub2"), 10*time.Second)
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || (seen != HubPublic && seen != Hub2Public) {
		t.Errorf("LAN to web: seen as %q (%v), want a hub's address", seen, err)
	}
	backup := func(s string) string {
		return strings.Replace(s, "name = \"hub2\"\n", "name = \"hub2\"\npreference = 50\n", 1)
	}
	setEdgeConfig(t, l, backup)
	took := waitDefault(t, l, tunnelsTo(l, "hub"), 10*time.Second)
	t.Logf("primary/backup after reload: default over hub's three tunnels only, %s", took.Round(time.Millisecond))
	st := status(t, l, "edge")
	for _, h := range st.ECMP.Hubs {
		if want := h.Name == "hub"; h.Carrying != want {
			t.Errorf("status: hub %s carries traffic %v, want %v", h.Name, h.Carrying, want)
		}
	}
	setEdgeConfig(t, l, func(s string) string { return strings.Replace(s, "preference = 50\n", "", 1) })
	waitDefault(t, l, tunnelsTo(l, "hub", "hub2"), 10*time.Second)
}

// echoServer serves a line echo in a lab host's namespace; it reports
// each connection's peer address (the hub it came through).
func echoServer(t *testing.T, l *Lab, host, addr string) {
	t.Helper()
	var ln net.Listener
	if err := InNS(l.NS(host), func() (err error) { ln, err = net.Listen("tcp", addr); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
				fmt.Fprintln(c, host)
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
}

// TestHubKilledTrafficMoves: the first hub's daemon SIGKILLed and its link
// cut at once: the edge's default leaves by hub2's tunnels only within
// the BFD detection time, the LAN reaches the web through hub2, and TCP
// connections that were on hub2 keep flowing. Then hub is brought back.
func TestHubKilledTrafficMoves(t *testing.T) {
	l := needHubLab(t)
	waitDefault(t, l, tunnelsTo(l, "hub", "hub2"), 10*time.Second)
	const port = 9090
	echoServer(t, l, "web", fmt.Sprintf(":%d", port))
	type conn struct {
		c   net.Conn
		r   *bufio.Reader
		hub string
	}
	var onHub2 []conn
	for i := 0; i < 24 && len(onHub2) < 3; i++ {
		c, err := l.DialFrom("lan", "tcp", fmt.Sprintf("%s:%d", WebAddr, port), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		c.SetDeadline(time.Now().Add(2 * time.Second))
		seen, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(seen) == Hub2Public {
			onHub2 = append(onHub2, conn{c, r, "hub2"})
		}
	}
	if len(onHub2) == 0 {
		t.Fatal("no connection of 24 went through hub2: ECMP is not spreading over both hubs")
	}
	start := time.Now()
	killed := make(chan error, 1)
	go func() { killed <- l.KillHub("hub") }()
	took, err := l.WaitDefaultOnly(context.Background(), "hub2", start, 5*time.Second)
	if kerr := <-killed; kerr != nil {
		t.Fatal(kerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MEASURE hub killed -> FIB over hub2 only: %s", took.Round(time.Millisecond))
	if took > 600*time.Millisecond {
		t.Errorf("the dead hub left the FIB after %s; BFD at 100 ms x 3 should take about 300 ms", took)
	}
	for i, c := range onHub2 {
		c.c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(c.c, "still there %d\n", i)
		if line, err := c.r.ReadString('\n'); err != nil || strings.TrimSpace(line) != fmt.Sprintf("still there %d", i) {
			t.Errorf("connection %d on hub2 broke when hub died: %q, %v", i, line, err)
		}
	}
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || seen != Hub2Public {
		t.Errorf("after the kill, web sees the LAN as %q (%v), want hub2's %s", seen, err, Hub2Public)
	}
	restartHub(t, l)
}

// restartHub brings the first hub back after KillHub.
func restartHub(t *testing.T, l *Lab) {
	t.Helper()
	if err := l.RestartHub("hub"); err != nil {
		t.Fatal(err)
	}
	waitDefault(t, l, tunnelsTo(l, "hub", "hub2"), 20*time.Second)
}

// blackholeHubs drops the tunnels' packets at every hub, or lifts that.
func blackholeHubs(t *testing.T, l *Lab, on bool) {
	t.Helper()
	if err := l.BlackholeHubs(on); err != nil {
		t.Fatal(err)
	}
}

// TestAllHubsDownLastResort: every hub blackholed, the edge installs the
// default through the 5G router and the LAN reaches the web from the 5G
// router's address; hubs back, the tunnels return after the hold-down,
// the last resort goes, and nothing of it is left behind.
func TestAllHubsDownLastResort(t *testing.T) {
	l := needHubLab(t)
	waitDefault(t, l, tunnelsTo(l, "hub", "hub2"), 10*time.Second)
	start := time.Now()
	blackholeHubs(t, l, true)
	defer blackholeHubs(t, l, false)
	waitDefault(t, l, []string{"breakout"}, 5*time.Second)
	took := time.Since(start)
	t.Logf("MEASURE all hubs blackholed -> last resort installed: %s", took.Round(time.Millisecond))
	if took > 800*time.Millisecond {
		t.Errorf("last resort after %s; BFD at 100 ms x 3 should take about 300 ms", took)
	}
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || seen != FiveGPublic {
		t.Errorf("with every hub down, web sees the LAN as %q (%v), want the 5G router's %s", seen, err, FiveGPublic)
	}
	st := status(t, l, "edge")
	if lr := st.ECMP.LastResort; lr == nil || !lr.Active || lr.Since.IsZero() {
		t.Errorf("status last resort: %+v, want active with a since time", lr)
	}
	blackholeHubs(t, l, false)
	waitDefault(t, l, tunnelsTo(l, "hub", "hub2"), 20*time.Second)
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || (seen != HubPublic && seen != Hub2Public) {
		t.Errorf("hubs back: web sees the LAN as %q (%v), want a hub's address", seen, err)
	}
	out, _ := exec.Command("ip", "-n", l.NS("home"), "route", "show", "table", "all", "proto", "211").CombinedOutput()
	if strings.Contains(string(out), "dev breakout") && strings.Contains(string(out), "default") {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "default") && strings.Contains(line, "breakout") {
				t.Errorf("last resort left behind: %s", line)
			}
		}
	}
	if st := status(t, l, "edge"); st.ECMP.LastResort == nil || st.ECMP.LastResort.Active {
		t.Errorf("status after the hubs came back: %+v", st.ECMP.LastResort)
	}
}

// TestPublishedServicesReachHome: the LAN host's service published at
// each hub answers from ul-web over TCP and UDP and sees ul-web's own
// address; IPv6 is routed to it, opened for the published port only; a
// client inside a breakout prefix gets its replies through the tunnel;
// nothing else from outside reaches the LAN.
func TestPublishedServicesReachHome(t *testing.T) {
	l := needHubLab(t)
	for _, hub := range []string{HubPublic, Hub2Public} {
		if seen, err := l.WhoAmIAt("web", hub, PublishPort); err != nil || seen != WebAddr {
			t.Errorf("tcp %s:%d from web: the home server saw %q (%v), want %s", hub, PublishPort, seen, err, WebAddr)
		}
	}
	c, err := l.DialFrom("web", "udp", fmt.Sprintf("%s:%d", HubPublic, PublishUDPPort), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write([]byte("who\n"))
	buf := make([]byte, 100)
	if n, err := c.Read(buf); err != nil || strings.TrimSpace(string(buf[:n])) != WebAddr {
		t.Errorf("udp %s:%d from web: %q, %v; want %s", HubPublic, PublishUDPPort, buf[:n], err, WebAddr)
	}
	// ul-media is inside a breakout prefix: its replies must not take the
	// 5G router (whose NAT would break the connection).
	if seen, err := l.WhoAmIAt("media", HubPublic, PublishPort); err != nil || seen != MediaAddr {
		t.Errorf("from a client in a breakout prefix: %q, %v; want %s", seen, err, MediaAddr)
	}
	// IPv6, routed by the hub: the published port only.
	exec.Command("ip", "-n", l.NS("inet"), "-6", "route", "replace", LANPrefix6, "via", HubPublic6).Run()
	exec.Command("ip", "-n", l.NS("inet"), "route", "replace", LANPrefix, "via", HubPublic).Run()
	if seen, err := l.WhoAmIAt("web", LANHost6, WhoAmIPort); err != nil || seen != WebAddr6 {
		t.Errorf("v6 published port: the home saw %q (%v), want %s", seen, err, WebAddr6)
	}
	if err := ping(l.NS("inet"), LANHost); err == nil {
		t.Error("ping from the internet side reaches the LAN host through the hub")
	}
	if _, err := l.DialFrom("web", "tcp", fmt.Sprintf("%s:%d", LANHost, WhoAmIPort), time.Second); err == nil {
		t.Error("an unpublished v4 route to the LAN host's port is open through the hub")
	}
	if _, err := l.DialFrom("web", "tcp", fmt.Sprintf("[%s]:22", LANHost6), time.Second); err == nil {
		t.Error("an unpublished v6 port of the LAN host is open")
	}
	// explain of the hub's public address says where each service goes.
	e, err := api.NewClient(l.Socket("hub")).Explain(HubPublic)
	if err != nil || e.Kind != "published" || !strings.Contains(strings.Join(e.Lines, "\n"), fmt.Sprintf("tcp %d -> %s port %d (whoami)", PublishPort, LANHost, WhoAmIPort)) {
		t.Errorf("explain %s on the hub: %+v, %v", HubPublic, e, err)
	}
	// Outbound is unchanged.
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || (seen != HubPublic && seen != Hub2Public) {
		t.Errorf("LAN to web: %q, %v", seen, err)
	}
}

// TestTwoHubsKillRestartOneOfEach: the edge SIGKILLed and restarted with
// two hubs converges to exactly one copy of every tunnel, rule, route and
// nftables table.
func TestTwoHubsKillRestartOneOfEach(t *testing.T) {
	l := needHubLab(t)
	waitDefault(t, l, tunnelsTo(l, "hub", "hub2"), 10*time.Second)
	if err := l.Kill("edge"); err != nil {
		t.Fatal(err)
	}
	if err := l.Start("edge"); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitRouting(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	waitDefault(t, l, tunnelsTo(l, "hub", "hub2"), 10*time.Second)
	home := l.NS("home")
	show := func(args ...string) string {
		out, err := exec.Command("ip", append([]string{"-n", home}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	links := show("-o", "link", "show")
	for _, name := range tunnelsTo(l, "hub", "hub2") {
		if n := strings.Count(links, ": "+name+":"); n != 1 {
			t.Errorf("%d links named %s, want 1", n, name)
		}
	}
	for _, fam := range []string{"-4", "-6"} {
		rules := show(fam, "rule", "show")
		for what, want := range map[string]int{"fwmark 0x600": 3, "fwmark 0x6201 lookup 6201": 1, "fwmark 0x6202 lookup 6202": 1, "lookup 6100 proto 211": 1} {
			if n := strings.Count(rules, what); n != want {
				t.Errorf("ip %s rule: %d of %q, want %d:\n%s", fam, n, what, want, rules)
			}
		}
		if n := strings.Count(show(fam, "route", "show", "default"), "default"); n != 1 {
			t.Errorf("ip %s: %d default routes, want 1", fam, n)
		}
		for _, table := range []string{"6201", "6202"} {
			if n := strings.Count(show(fam, "route", "show", "table", table), "default"); n != 1 {
				t.Errorf("ip %s table %s: %d default routes, want 1 (the return path)", fam, table, n)
			}
		}
	}
	out, err := exec.Command("ip", "netns", "exec", home, "nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	for _, table := range []string{"table inet uplinkd\n", "table inet uplinkd_inbound\n"} {
		if n := strings.Count(string(out), table); n != 1 {
			t.Errorf("%d of %q, want 1:\n%s", n, strings.TrimSpace(table), out)
		}
	}
}

// TestHubServesTwoEdgeSites: the first hub serves a second home too. Each
// home's LAN is reachable from the hub; the second home also announces
// the first's LAN, and the hub's import filter for that site refuses it
// (counted in status), so the first home's LAN stays on its own tunnels.
func TestHubServesTwoEdgeSites(t *testing.T) {
	l := needHubLab(t)
	for _, host := range []string{LANHost, LAN2Host} {
		var err error
		for range 50 {
			if err = ping(l.NS("hub"), host); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("from the hub: %v", err)
		}
	}
	if seen, err := l.WhoAmI("lan2", WebAddr); err != nil || seen != HubPublic {
		t.Errorf("second home's LAN to web: seen as %q (%v), want the hub's %s", seen, err, HubPublic)
	}
	route, err := exec.Command("ip", "-n", l.NS("hub"), "route", "show", LANPrefix).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(route), l.HubEdge2Tunnel()) || !strings.Contains(string(route), l.HubTunnel("docomo")) {
		t.Errorf("the hub's route to the first home's LAN:\n%s\nwant only the first home's tunnels, never %s", route, l.HubEdge2Tunnel())
	}
	var refused uint32
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st := status(t, l, "hub")
		for _, g := range st.ECMP.Sites {
			if g.Name == "home2" {
				refused = g.Refused
			}
		}
		if refused == 1 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if refused != 1 {
		t.Errorf("hub status: home2 refused %d prefixes, want 1 (the first home's LAN)", refused)
	}
}

// TestRecreatedTunnelBackInECMP: a tunnel interface deleted by hand (or by
// a crashed helper) is re-created with its WireGuard config, gets a new
// BFD session bound to the new interface, and is back in the ECMP set
// without a restart.
func TestRecreatedTunnelBackInECMP(t *testing.T) {
	l := needLab(t)
	all := tunnelsTo(l, "hub")
	waitDefault(t, l, all, 10*time.Second)
	before := status(t, l, "edge").ECMP.BFDRebinds
	if out, err := inNS(l.NS("home"), "ip", "link", "del", l.EdgeTunnel("rakuten")); err != nil {
		t.Fatalf("delete %s: %v: %s", l.EdgeTunnel("rakuten"), err, out)
	}
	waitDefault(t, l, all[:2], 5*time.Second)
	took := waitDefault(t, l, all, 20*time.Second)
	t.Logf("re-created tunnel back in ECMP %s after it left", took.Round(time.Millisecond))
	if after := status(t, l, "edge").ECMP.BFDRebinds; after <= before {
		t.Errorf("status bfd_rebinds %d, was %d: the BFD session was not re-created", after, before)
	}
}
