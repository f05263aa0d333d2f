package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
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

// watch opens a DefaultWatch on the edge for the test.
func watch(t *testing.T, l *Lab) *DefaultWatch {
	t.Helper()
	w, err := l.WatchDefault()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// waitDefault waits until the edge's IPv4 default leaves exactly by want
// (read from its kernel every millisecond) and says how long that took.
func waitDefault(t *testing.T, l *Lab, want []string, limit time.Duration) time.Duration {
	t.Helper()
	w, err := l.WatchDefault()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	took, got, err := w.Wait(context.Background(), time.Now(), limit, OnlyVia(want...))
	if err != nil {
		t.Fatalf("edge default via %v, want %v (after %s)", got, want, limit)
	}
	return took
}

// logBetween returns the lines of a daemon's log stamped from a little
// before from to a little after to: what it did while a test timed it.
func logBetween(path string, from, to time.Time) string {
	b, _ := os.ReadFile(path)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err == nil && !at.Before(from.Add(-100*time.Millisecond)) && !at.After(to.Add(100*time.Millisecond)) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// waitHubRoutes waits until a hub routes the home's LAN, IPv4 and IPv6,
// over all of the home's tunnels.
func waitHubRoutes(t *testing.T, l *Lab, site string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok := true
		var out []byte
		for _, p := range [][]string{{"-4", LANPrefix}, {"-6", LANPrefix6}} {
			out, _ = exec.Command("ip", "-n", l.NS(site), p[0], "-o", "route", "show", p[1]).Output()
			ok = ok && strings.Count(string(out), "nexthop") == len(Carriers)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not route the home's LAN over its %d tunnels within %s: %s", site, len(Carriers), limit, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitBoth is waitDefault for the IPv4 and the IPv6 default: a kernel
// state read as "before" must not catch a session still coming up.
func waitBoth(t *testing.T, l *Lab, want []string, limit time.Duration) {
	t.Helper()
	w, err := l.WatchDefault()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	for _, v6 := range []bool{false, true} {
		if _, _, err := w.WaitFamily(context.Background(), v6, start, limit, OnlyVia(want...)); err != nil {
			t.Fatalf("want both defaults via %v: %v", want, err)
		}
	}
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

// setEdgeConfig rewrites the edge's file with edit and reloads it (the
// test edits it back itself).
func setEdgeConfig(t *testing.T, l *Lab, edit func(string) string) {
	t.Helper()
	if _, err := l.EditConfig("edge", edit); err != nil {
		t.Fatal(err)
	}
}

// TestTwoHubsActiveActiveThenPrimaryBackup: both hubs equal, the default
// has a next hop per carrier and hub; hub2 made a backup (preference 50,
// SIGHUP), only the primary's three; the primary killed, the backup takes
// over within the BFD detection time and the LAN is seen from hub2; the
// primary back, the backup hands the traffic back; equal again, all six.
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
	defer func() {
		if _, err := api.NewClient(l.Socket("hub")).Status(); err != nil {
			l.RestartHub("hub") // the test stopped with the primary dead
		}
		setEdgeConfig(t, l, func(s string) string { return strings.Replace(s, "preference = 50\n", "", 1) })
		waitDefault(t, l, tunnelsTo(l, "hub", "hub2"), 20*time.Second)
	}()
	took := waitDefault(t, l, tunnelsTo(l, "hub"), 10*time.Second)
	t.Logf("primary/backup after reload: default over hub's three tunnels only, %s", took.Round(time.Millisecond))
	waitBoth(t, l, tunnelsTo(l, "hub"), 10*time.Second)
	carrying(t, l, "hub")
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || seen != HubPublic {
		t.Errorf("primary/backup: web sees the LAN as %q (%v), want the primary's %s", seen, err, HubPublic)
	}

	start := time.Now()
	killed := make(chan error, 1)
	go func() { killed <- l.KillHub("hub") }()
	took, err := l.WaitDefaultOnly(context.Background(), "hub2", start, 5*time.Second)
	if kerr := <-killed; kerr != nil {
		t.Fatal(kerr)
	}
	if err != nil {
		t.Fatalf("primary killed: %v", err)
	}
	t.Logf("MEASURE primary killed -> FIB over the backup's tunnels: %s", took.Round(time.Millisecond))
	if took > 600*time.Millisecond {
		t.Errorf("the backup took over %s after the primary died; BFD at 100 ms x 3 should take about 300 ms; the edge's log then:\n%s",
			took, logBetween(l.LogPath("edge"), start, start.Add(took)))
	}
	waitBoth(t, l, tunnelsTo(l, "hub2"), 5*time.Second)
	carrying(t, l, "hub2")
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || seen != Hub2Public {
		t.Errorf("primary dead: web sees the LAN as %q (%v), want the backup's %s", seen, err, Hub2Public)
	}
	if err := l.RestartHub("hub"); err != nil {
		t.Fatal(err)
	}
	took = waitDefault(t, l, tunnelsTo(l, "hub"), 20*time.Second)
	t.Logf("primary back: the backup handed the default back %s after the primary's daemon was up", took.Round(time.Millisecond))
	waitBoth(t, l, tunnelsTo(l, "hub"), 10*time.Second) // the v6 sessions may come a moment later
	carrying(t, l, "hub")
}

// carrying checks that the edge's status says only this hub carries
// traffic.
func carrying(t *testing.T, l *Lab, hub string) {
	t.Helper()
	for _, h := range status(t, l, "edge").ECMP.Hubs {
		if want := h.Name == hub; h.Carrying != want {
			t.Errorf("status: hub %s carries traffic %v, want %v", h.Name, h.Carrying, want)
		}
	}
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
		t.Errorf("the dead hub left the FIB after %s; BFD at 100 ms x 3 should take about 300 ms; the edge's log then:\n%s",
			took, logBetween(l.LogPath("edge"), start, start.Add(took)))
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
// default (IPv4 and IPv6) through the 5G router and the LAN reaches the
// web from the 5G router's addresses; hubs back, the tunnels return only
// after the hold-down, the LAN's default never goes missing on the way,
// and the edge's kernel is as it was before: no route, rule, next hop or
// NAT rule of the last resort left behind.
func TestAllHubsDownLastResort(t *testing.T) {
	l := needHubLab(t)
	six := tunnelsTo(l, "hub", "hub2")
	waitBoth(t, l, six, 20*time.Second)
	home := l.NS("home")
	before, err := readState(home)
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, l)
	ctx := context.Background()
	start := time.Now()
	blackholeHubs(t, l, true)
	defer blackholeHubs(t, l, false)
	took, _, err := w.Wait(ctx, start, 5*time.Second, OnlyVia("breakout"))
	if err != nil {
		t.Fatalf("every hub blackholed: %v", err)
	}
	t.Logf("MEASURE all hubs blackholed -> last resort installed: %s", took.Round(time.Millisecond))
	if took > 800*time.Millisecond {
		t.Errorf("last resort after %s; BFD at 100 ms x 3 should take about 300 ms; the edge's log then:\n%s",
			took, logBetween(l.LogPath("edge"), start, start.Add(took)))
	}
	if _, _, err := w.WaitFamily(ctx, true, time.Now(), 2*time.Second, OnlyVia("breakout")); err != nil {
		t.Errorf("during the last resort: %v", err)
	}
	for server, want := range map[string]string{WebAddr: FiveGPublic, WebAddr6: FiveGPublic6} {
		if seen, err := l.WhoAmI("lan", server); err != nil || seen != want {
			t.Errorf("with every hub down, %s sees the LAN as %q (%v), want the 5G router's %s", server, seen, err, want)
		}
	}
	st := status(t, l, "edge")
	if lr := st.ECMP.LastResort; lr == nil || !lr.Active || lr.Since.IsZero() || len(lr.Prefixes) != 2 {
		t.Errorf("status last resort: %+v, want active for 0.0.0.0/0 and ::/0 with a since time", lr)
	}
	// Connections opened through the last resort: one of the edge's own
	// (as a feed fetch would be) and one of the LAN's.
	sink, err := l.StartUploads()
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Stop()
	opened := map[string]net.Conn{}
	for _, host := range []string{"home", "lan"} {
		c, err := l.DialFrom(host, "tcp", net.JoinHostPort(WebAddr, strconv.Itoa(UploadPort)), 2*time.Second)
		if err != nil {
			t.Fatalf("a connection from %s during the last resort: %v", host, err)
		}
		defer c.Close()
		opened[host] = c
	}

	lift := time.Now()
	blackholeHubs(t, l, false)
	gone, missing, err := lastResortGone(w, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// They cannot move to the tunnels (their source is the last resort's):
	// they must fail at once, not hang until they time out.
	for host, c := range opened {
		c.Write([]byte("x")) // the LAN's flow learns of it from the far end's reset
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Errorf("%s's connection opened through the last resort still hangs 5 s after the tunnels took over (%v)", host, err)
		} else {
			t.Logf("%s's connection opened through the last resort ended %s after the last resort did: %v", host, time.Since(gone).Round(time.Millisecond), err)
		}
	}
	t.Logf("hubs back -> last resort gone after %s (hold-down 1 s); the default was missing in %d of the polls", gone.Sub(lift).Round(time.Millisecond), missing)
	if missing > 0 {
		t.Errorf("the edge had no IPv4 default in %d polls (1 ms apart) while the tunnels took over from the last resort", missing)
	}
	if d := gone.Sub(lift); d < time.Second {
		t.Errorf("the last resort went %s after the hubs came back, before the tunnels' hold-down (1 s) was over", d)
	}
	waitDefault(t, l, six, 20*time.Second)
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || (seen != HubPublic && seen != Hub2Public) {
		t.Errorf("hubs back: web sees the LAN as %q (%v), want a hub's address", seen, err)
	}
	waitState(t, home, before, 10*time.Second)
	if st := status(t, l, "edge"); st.ECMP.LastResort == nil || st.ECMP.LastResort.Active {
		t.Errorf("status after the hubs came back: %+v", st.ECMP.LastResort)
	}
}

// TestLastResortNeedsItsGateway: with the 5G router dead (every packet
// on its LAN side dropped, the link up), the breakout probe fails and the
// last resort is not used when every hub goes: the edge has no default,
// and status says why; the router back, the last resort takes over.
func TestLastResortNeedsItsGateway(t *testing.T) {
	l := needHubLab(t)
	six := tunnelsTo(l, "hub", "hub2")
	waitBoth(t, l, six, 20*time.Second)
	if err := Blackhole(l.NS("5g"), "lan0"); err != nil {
		t.Fatal(err)
	}
	defer Unblackhole(l.NS("5g"))
	eventually(t, 10*time.Second, func() string {
		if st := status(t, l, "edge"); st.Breakout == nil || st.Breakout.Gateway.Healthy {
			return "the breakout probe still finds the 5G router"
		}
		return ""
	})
	w := watch(t, l)
	blackholeHubs(t, l, true)
	defer blackholeHubs(t, l, false)
	if _, got, err := w.Wait(t.Context(), time.Now(), 5*time.Second, func(d []string) bool { return len(d) == 0 }); err != nil {
		t.Fatalf("every hub and the 5G router down: the edge's default via %v, want none", got)
	}
	time.Sleep(time.Second)
	if devs, _ := w.Devs(false); len(devs) != 0 {
		t.Errorf("the edge's default via %v a second later, want none: the last resort's router is dead", devs)
	}
	lr := status(t, l, "edge").ECMP.LastResort
	if lr == nil || lr.Active || !strings.Contains(lr.Error, "5G router") {
		t.Errorf("status last resort %+v, want inactive and saying the 5G router does not answer", lr)
	}
	if err := Unblackhole(l.NS("5g")); err != nil {
		t.Fatal(err)
	}
	took, got, err := w.Wait(t.Context(), time.Now(), 15*time.Second, OnlyVia("breakout"))
	if err != nil {
		t.Fatalf("the 5G router back, every hub still down: the edge's default via %v, want the last resort", got)
	}
	t.Logf("the 5G router back: last resort in %s", took.Round(time.Millisecond))
	blackholeHubs(t, l, false)
	waitDefault(t, l, six, 20*time.Second)
}

// lastResortGone polls the edge's IPv4 default every millisecond until it
// no longer leaves by the 5G router, counting the polls that found no
// default at all.
func lastResortGone(w *DefaultWatch, limit time.Duration) (time.Time, int, error) {
	deadline := time.Now().Add(limit)
	missing := 0
	for time.Now().Before(deadline) {
		devs, err := w.Devs(false)
		now := time.Now()
		switch {
		case err != nil:
		case len(devs) == 0:
			missing++
		case !slices.Contains(devs, "breakout"):
			return now, missing, nil
		}
		time.Sleep(time.Millisecond)
	}
	return time.Time{}, missing, fmt.Errorf("the default still leaves by the last resort %s after the hubs came back", limit)
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
// nftables table, and its kernel, and both hubs', are as before the kill.
func TestTwoHubsKillRestartOneOfEach(t *testing.T) {
	l := needHubLab(t)
	waitBoth(t, l, tunnelsTo(l, "hub", "hub2"), 20*time.Second)
	for _, site := range l.HubSites() {
		waitHubRoutes(t, l, site, 20*time.Second)
	}
	before := map[string]kernelState{}
	for _, host := range []string{"home", "hub", "hub2"} {
		st, err := readState(l.NS(host))
		if err != nil {
			t.Fatal(err)
		}
		before[host] = st
	}
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
		// The IPv6 sessions may come up a little after the IPv4 ones the
		// waits above watched: a missing return path may still come, a
		// second one never may.
		for _, table := range []string{"6201", "6202"} {
			eventually(t, 10*time.Second, func() string {
				if n := strings.Count(show(fam, "route", "show", "table", table), "default"); n != 1 {
					return fmt.Sprintf("ip %s table %s: %d default routes, want 1 (the return path)", fam, table, n)
				}
				return ""
			})
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
	for _, host := range []string{"home", "hub", "hub2"} {
		waitState(t, l.NS(host), before[host], 15*time.Second)
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
	firstHomeClaimsSecond(t, l)
}

// firstHomeClaimsSecond: the other way round, the first home announces
// the second's LAN too (a reload): each of its sessions to the hub refuses
// it, `uplinkd status` on the hub says so per site, and the second home's
// LAN stays on its own tunnel.
func firstHomeClaimsSecond(t *testing.T, l *Lab) {
	t.Helper()
	own := fmt.Sprintf("originate = [%q, %q]", LANPrefix, LANPrefix6)
	claim := fmt.Sprintf("originate = [%q, %q, %q]", LANPrefix, LANPrefix6, LAN2Prefix)
	setEdgeConfig(t, l, func(s string) string { return strings.Replace(s, own, claim, 1) })
	defer setEdgeConfig(t, l, func(s string) string { return strings.Replace(s, claim, own, 1) })
	var text string
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command(l.Binary, "status", "-c", l.ConfigPath("hub")).CombinedOutput()
		if err != nil {
			t.Fatalf("uplinkd status on the hub: %v\n%s", err, out)
		}
		text = string(out)
		if siteRefused(text, "home") == len(Carriers) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := siteRefused(text, "home"); got != len(Carriers) {
		t.Errorf("hub status: home refused %d prefixes, want %d (the second home's LAN, on each of its sessions):\n%s", got, len(Carriers), text)
	}
	if got := siteRefused(text, "home2"); got != 1 {
		t.Errorf("hub status: home2 refused %d prefixes, want still 1:\n%s", got, text)
	}
	route, err := exec.Command("ip", "-n", l.NS("hub"), "route", "show", LAN2Prefix).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(route), l.HubEdge2Tunnel()) || strings.Contains(string(route), l.HubTunnel("docomo")) {
		t.Errorf("the hub's route to the second home's LAN:\n%s\nwant only %s", route, l.HubEdge2Tunnel())
	}
}

// siteRefused reads a site's REFUSED PFX from the EDGE SITE table of
// `uplinkd status`; -1 when the site is not listed.
func siteRefused(status, site string) int {
	_, table, ok := strings.Cut(status, "\nEDGE SITE")
	if !ok {
		return -1
	}
	for _, line := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			break
		}
		if f[0] == site {
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
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
