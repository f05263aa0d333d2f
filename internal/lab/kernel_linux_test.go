package lab

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/uplinkd/uplinkd/internal/config"
)

// The lab end to end on the kernel's WireGuard: a lab tagged "k" (ulk-*)
// whose edge and hub both run their tunnels as kernel wireguard links, and
// one tagged "x" (ulx-*), a kernel edge facing a userspace hub. They need
// the kernel module, which `make test-kernel`'s VM has; elsewhere they
// skip, saying why, unless UPLINKD_TEST_WG_IMPL=kernel (set in the VM)
// asks for the kernel's, when a missing module fails them.

// wgImplEnv is the kernel tests' choice of WireGuard (internal/wg's).
const wgImplEnv = "UPLINKD_TEST_WG_IMPL"

// vmBFD is BFD slow enough for a machine emulated by TCG (see
// KillRestartAdopts): 1.5 s detection both ways.
const vmBFD = "interval_ms = 500\nmultiplier = 3\n"

// kernelWireGuard tries to make a wireguard link in a throwaway namespace:
// nil when the kernel can.
func kernelWireGuard() error {
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, and its
		// namespace with it.
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			done <- fmt.Errorf("new namespace: %w", err)
			return
		}
		defer ns.Close()
		done <- netlink.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: "ulk-probe"}})
	}()
	return <-done
}

// needImplLab builds, for one test, a lab tagged tag whose edge and hub
// run the WireGuard implementations edge and hub, and tears it down after.
func needImplLab(t *testing.T, tag, edge, hub string) *Lab {
	t.Helper()
	if labBinary == "" {
		t.Skip("needs root: the lab builds network namespaces")
	}
	if err := kernelWireGuard(); err != nil {
		if os.Getenv(wgImplEnv) == string(config.ImplKernel) {
			t.Fatalf("%s=kernel, but the kernel makes no wireguard link: %v", wgImplEnv, err)
		}
		t.Skipf("no kernel WireGuard here (a wireguard link in a throwaway namespace: %v); make test-kernel runs this in a VM", err)
	}
	l := New(Options{Tag: tag, Binary: labBinary, EdgeImpl: edge, HubImpl: hub})
	var progress bytes.Buffer
	start := time.Now()
	err := l.Up(context.Background(), &progress)
	t.Cleanup(func() {
		if t.Failed() {
			for _, site := range l.Sites() {
				t.Logf("%s log:\n%s", site, Tail(l.LogPath(site), 40))
			}
		}
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
		if left := leftovers(l); left != "" {
			t.Errorf("lab down left: %s", left)
		}
	})
	if err != nil {
		t.Fatalf("lab (edge %s, hub %s): %v\n%s", edge, hub, err, progress.String())
	}
	t.Logf("MEASURE lab up (edge %s, hub %s WireGuard) with handshakes, ECMP and breakout in %s",
		edge, hub, time.Since(start).Round(time.Millisecond))
	return l
}

// wireguardLinks maps the kernel wireguard links of a lab host to their
// interface indexes (a userspace tunnel is a TUN device, not one of them).
func wireguardLinks(t *testing.T, l *Lab, host string) map[string]int {
	t.Helper()
	h := nsHandle(t, l, host)
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatalf("links of %s: %v", l.NS(host), err)
	}
	out := map[string]int{}
	for _, k := range links {
		if k.Type() == "wireguard" {
			out[k.Attrs().Name] = k.Attrs().Index
		}
	}
	return out
}

// checkImpl: every tunnel of a site says impl in its status, and the
// site's namespace holds exactly its tunnels as kernel links (kernel) or
// none (userspace).
func checkImpl(t *testing.T, l *Lab, site, host, impl string, tunnels []string) {
	t.Helper()
	st := status(t, l, site)
	if len(st.Tunnels) != len(tunnels) {
		t.Errorf("%s has %d tunnels, want %d: %+v", site, len(st.Tunnels), len(tunnels), st.Tunnels)
	}
	for _, tu := range st.Tunnels {
		if tu.Impl != impl {
			t.Errorf("%s tunnel %s: implementation %q, want %s", site, tu.Name, tu.Impl, impl)
		}
	}
	var want []string
	if impl == string(config.ImplKernel) {
		want = slices.Sorted(slices.Values(tunnels))
	}
	if got := slices.Sorted(maps.Keys(wireguardLinks(t, l, host))); !slices.Equal(got, want) {
		t.Errorf("kernel wireguard links in %s: %q, want %q", l.NS(host), got, want)
	}
}

// checkPinned: the hub sees each tunnel arrive from its own carrier's
// public address, after a handshake.
func checkPinned(t *testing.T, l *Lab) {
	t.Helper()
	hub := status(t, l, "hub")
	for i, c := range Carriers {
		tu := tunnelOf(t, hub, c)
		if !strings.HasPrefix(tu.Endpoint, CarrierPublic(i)+":") || tu.LastHandshake.IsZero() {
			t.Errorf("hub's %s tunnel: endpoint %q, handshake %s; want from %s:*, a handshake", c, tu.Endpoint, tu.LastHandshake, CarrierPublic(i))
		}
	}
}

// checkECMP: the edge's defaults over the three tunnels, the hub's route
// to the LAN back over the three.
func checkECMP(t *testing.T, l *Lab) {
	t.Helper()
	for _, p := range []string{"0.0.0.0/0", "::/0"} {
		took := waitRoute(t, l, "home", p, l.edgeTunnels(1, 1, 1), 30*time.Second)
		t.Logf("edge %s over three tunnels (waited %s)", p, took.Round(time.Millisecond))
	}
	for _, p := range []string{LANPrefix, LANPrefix6} {
		waitRoute(t, l, "hub", p, l.hubTunnels(), 30*time.Second)
	}
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || seen != HubPublic {
		t.Errorf("ul-web sees the LAN host as %q (%v), want the hub's %s", seen, err, HubPublic)
	}
}

// defaultVia polls the edge's IPv4 default (every 20 ms: a tighter loop
// would take the one vCPU of the VM from the daemons it times) until it
// leaves by exactly want, and says how long that took since start.
func defaultVia(t *testing.T, w *DefaultWatch, start time.Time, limit time.Duration, want ...string) time.Duration {
	t.Helper()
	ok := OnlyVia(want...)
	var last []string
	for time.Since(start) < limit {
		devs, err := w.Devs(false)
		if err == nil && ok(devs) {
			return time.Since(start)
		}
		last = devs
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the edge's default via %v after %s, want %v", last, limit, want)
	return 0
}

func TestKernelLab(t *testing.T) {
	l := needImplLab(t, "k", "kernel", "kernel")
	edgeTunnels, hubTunnels := tunnelsOf(l), slices.Collect(maps.Keys(l.hubTunnels()))

	t.Run("KernelLinks", func(t *testing.T) {
		checkImpl(t, l, "edge", "home", "kernel", edgeTunnels)
		checkImpl(t, l, "hub", "hub", "kernel", hubTunnels)
	})

	t.Run("WgShow", func(t *testing.T) {
		out, err := inNS(l.NS("home"), "wg", "show")
		if err != nil {
			t.Fatalf("wg show: %v: %s", err, out)
		}
		for i, c := range Carriers {
			block := section(out, "interface: "+l.EdgeTunnel(c))
			for _, want := range []string{fmt.Sprintf("fwmark: %#x", config.FwMarkBase+1+i),
				fmt.Sprintf("endpoint: %s:%d", HubPublic, HubPort(i)), "latest handshake:"} {
				if !strings.Contains(block, want) {
					t.Errorf("wg show %s lacks %q:\n%s", l.EdgeTunnel(c), want, block)
				}
			}
		}
		out, err = inNS(l.NS("hub"), "wg", "show")
		if err != nil {
			t.Fatalf("wg show on the hub: %v: %s", err, out)
		}
		for i, c := range Carriers {
			block := section(out, "interface: "+l.HubTunnel(c))
			if want := "endpoint: " + CarrierPublic(i) + ":"; !strings.Contains(block, want) {
				t.Errorf("the hub's wg show %s lacks %q (the edge's tunnel from its own carrier):\n%s", l.HubTunnel(c), want, block)
			}
		}
	})

	t.Run("PinnedHandshakes", func(t *testing.T) { checkPinned(t, l) })
	t.Run("ECMP", func(t *testing.T) { checkECMP(t, l) })

	t.Run("Breakout", func(t *testing.T) {
		waitBreakout(t, l)
		st := status(t, l, "edge")
		t.Logf("breakout: %d routes installed", st.Breakout.Compile.Installed)
		if seen, err := l.WhoAmI("lan", MediaAddr); err != nil || seen != FiveGPublic {
			t.Errorf("ul-media sees the LAN host as %q (%v), want the 5G router's %s", seen, err, FiveGPublic)
		}
	})

	t.Run("BlackholedCarrier", func(t *testing.T) {
		w := watch(t, l)
		defaultVia(t, w, time.Now(), 30*time.Second, edgeTunnels...)
		start := time.Now()
		if err := Blackhole(l.NS("docomo"), "home0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { Unblackhole(l.NS("docomo")) })
		took := defaultVia(t, w, start, 20*time.Second, edgeTunnels[1:]...)
		t.Logf("MEASURE blackholed docomo out of the edge's FIB in %s (TCG in the VM: no goal)", took.Round(time.Millisecond))
		if err := Unblackhole(l.NS("docomo")); err != nil {
			t.Fatal(err)
		}
		back := defaultVia(t, w, time.Now(), 30*time.Second, edgeTunnels...)
		t.Logf("docomo back in the FIB %s after the blackhole was lifted", back.Round(time.Millisecond))
	})

	t.Run("KillRestartAdopts", func(t *testing.T) {
		// BFD at 500 ms × 3 for this subtest (vmBFD): it is about what
		// the restarted daemon adopts, and at 100 ms × 3 the emulated
		// machine's own stalls while the daemon starts (a route write
		// of 127 ms, BFD packets of all three tunnels unread for 0.3–1 s
		// at once, in CI) took every tunnel down by BFD, so the grace
		// rightly dropped their next hops and the default with them.
		editConfig(t, l, "edge", "[liveness]\n", "[liveness]\n"+vmBFD)
		before := wireguardLinks(t, l, "home")
		if err := l.Kill("edge"); err != nil {
			t.Fatal(err)
		}
		if got := wireguardLinks(t, l, "home"); !maps.Equal(got, before) {
			t.Fatalf("kernel links after kill -9: %v, want them still there: %v", got, before)
		}
		// The kernel's tunnels outlive the daemon, and so do its routes:
		// the restarted one keeps them (its restart grace) until BGP has
		// them again, so the home never loses its default.
		gaps := watchDefaultGaps(t, l)
		restarted := time.Now()
		if err := l.Start("edge"); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitHandshakes(context.Background(), 60*time.Second); err != nil {
			t.Fatal(err)
		}
		// The same links, by index: adopted, none created again, none twice.
		if got := wireguardLinks(t, l, "home"); !maps.Equal(got, before) {
			t.Errorf("kernel links after the restart: %v, want the killed run's %v", got, before)
		}
		checkImpl(t, l, "edge", "home", "kernel", edgeTunnels)
		waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 30*time.Second)
		for _, fam := range []string{"-4", "-6"} {
			rules, _ := inNS(l.NS("home"), "ip", fam, "rule", "show")
			if n := strings.Count(rules, "fwmark 0x600"); n != 3 {
				t.Errorf("ip %s rule: %d pin rules after the restart, want 3:\n%s", fam, n, rules)
			}
		}
		if n, seen := gaps(); n > 0 {
			// What the restarted daemon did to its routes, in the error
			// itself: the logs printed at the end are tails, which the
			// later subtests fill.
			t.Errorf("the edge's IPv4 default was missing in %d of %d looks across the restart; the edge's log since:\n%s",
				n, seen, logSince(l.LogPath("edge"), restarted, 80, "ecmp", "bfd session", "grace", "adopt", "carrier", "sweep", "nexthop"))
		} else {
			t.Logf("the edge's IPv4 default was there in all %d looks across the restart", seen)
		}
		routes, _ := inNS(l.NS("home"), "ip", "route", "show", "default")
		if n := strings.Count(routes, "default"); n != 1 {
			t.Errorf("%d default routes after the restart, want 1:\n%s", n, routes)
		}
	})

	t.Run("SIGTERMRemovesAll", func(t *testing.T) {
		running, err := readState(l.NS("home"))
		if err != nil {
			t.Fatal(err)
		}
		made := leftAfterStop(l, running)
		if n := countKinds(made); n["link"] != len(Carriers) || n["nexthops"] == 0 || n["nft"] == 0 || n["rule"] == 0 || n["route"] == 0 {
			t.Fatalf("the running edge's objects as the check sees them: %v, want its links, rules, routes, nexthops and nftables:\n%s",
				n, strings.Join(made, "\n"))
		}
		if err := l.Stop("edge"); err != nil {
			t.Fatal(err)
		}
		if got := wireguardLinks(t, l, "home"); len(got) != 0 {
			t.Errorf("kernel wireguard links left after SIGTERM: %v", got)
		}
		st, err := readState(l.NS("home"))
		if err != nil {
			t.Fatal(err)
		}
		left := leftAfterStop(l, st)
		t.Logf("SIGTERM: %v of the running edge's objects, %d left", countKinds(made), len(left))
		if len(left) > 0 {
			t.Errorf("the edge's SIGTERM left in %s:\n%s", l.NS("home"), strings.Join(left, "\n"))
		}
	})
}

// leftAfterStop lists what of a stopped edge daemon's kernel state is
// still in its namespace: anything beyond the lab's own links, the
// kernel's own routes and the default rules.
func leftAfterStop(l *Lab, st kernelState) []string {
	var left []string
	mine := []string{"lo", "lan0", "breakout"}
	for _, c := range Carriers {
		mine = append(mine, "wwan-"+c)
	}
	for _, name := range st["links"] {
		if !slices.Contains(mine, name) {
			left = append(left, "link "+name)
		}
	}
	for _, r := range st["routes"] {
		if !strings.Contains(r, "proto kernel") {
			left = append(left, "route "+r)
		}
	}
	defaults := []string{"v4 0: from all lookup local", "v4 32766: from all lookup main", "v4 32767: from all lookup default",
		"v6 0: from all lookup local", "v6 32766: from all lookup main"}
	for _, r := range st["rules"] {
		if !slices.Contains(defaults, r) {
			left = append(left, "rule "+r)
		}
	}
	for _, kind := range []string{"nexthops", "nft"} {
		for _, line := range st[kind] {
			left = append(left, kind+" "+line)
		}
	}
	return left
}

// countKinds counts leftAfterStop's lines by kind.
func countKinds(lines []string) map[string]int {
	n := map[string]int{}
	for _, line := range lines {
		kind, _, _ := strings.Cut(line, " ")
		n[kind]++
	}
	return n
}

// The mixed case: the edge's kernel links against the hub's embedded
// userspace WireGuard.
func TestKernelEdgeUserspaceHub(t *testing.T) {
	l := needImplLab(t, "x", "kernel", "userspace")
	checkImpl(t, l, "edge", "home", "kernel", tunnelsOf(l))
	checkImpl(t, l, "hub", "hub", "userspace", slices.Collect(maps.Keys(l.hubTunnels())))
	checkPinned(t, l)
	checkECMP(t, l)
}

// The options reach the configs: each site asks for its implementation.
func TestImplOptionsInConfigs(t *testing.T) {
	for _, tc := range []struct {
		edge, hub         string
		wantEdge, wantHub config.Impl
	}{
		{"", "", config.ImplAuto, config.ImplAuto},
		{"kernel", "kernel", config.ImplKernel, config.ImplKernel},
		{"kernel", "userspace", config.ImplKernel, config.ImplUserspace},
	} {
		l := New(Options{Dir: t.TempDir(), Tag: "k", Hubs: 2, SecondEdge: true, EdgeImpl: tc.edge, HubImpl: tc.hub})
		if err := l.writeSites(); err != nil {
			t.Fatal(err)
		}
		for _, site := range l.Sites() {
			c, err := config.Load(l.ConfigPath(site))
			if err != nil {
				t.Fatalf("%s config: %v", site, err)
			}
			want := tc.wantHub
			if strings.HasPrefix(site, "edge") {
				want = tc.wantEdge
			}
			if c.WireGuard.Impl != want {
				t.Errorf("edge %q, hub %q: %s config says %q, want %q", tc.edge, tc.hub, site, c.WireGuard.Impl, want)
			}
		}
	}
}

// watchDefaultGaps looks at the edge's IPv4 default (a netlink dump of
// its main table in ul*-home, every 5 ms) until the returned function is
// called, which says in how many looks it was missing, of how many.
func watchDefaultGaps(t *testing.T, l *Lab) func() (missing, seen int) {
	t.Helper()
	ns, err := netns.GetFromName(l.NS("home"))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	var missing, seen int
	filter := &netlink.Route{Table: 254}
	go func() {
		defer close(done)
		defer h.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			routes, err := h.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_TABLE)
			if err != nil {
				continue
			}
			seen++
			if !slices.ContainsFunc(routes, func(r netlink.Route) bool { return r.Dst == nil || r.Dst.IP.IsUnspecified() }) {
				missing++
			}
		}
	}()
	return func() (int, int) {
		close(stop)
		<-done
		return missing, seen
	}
}

// logSince returns up to max lines of a daemon's log stamped at or after
// since that mention one of words.
func logSince(path string, since time.Time, max int, words ...string) string {
	body, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		stamp, _, ok := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if !ok || err != nil || at.Before(since) {
			continue
		}
		if slices.ContainsFunc(words, func(w string) bool { return strings.Contains(line, w) }) {
			out = append(out, line)
		}
		if len(out) == max {
			break
		}
	}
	return strings.Join(out, "\n")
}
