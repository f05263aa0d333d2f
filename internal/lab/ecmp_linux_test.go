package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// ecmpRoute reads one ECMP route back from a lab host's main table.
func ecmpRoute(t *testing.T, l *Lab, host, prefix string) (fib.MultipathState, bool) {
	t.Helper()
	var st fib.MultipathState
	var ok bool
	err := InNS(l.NS(host), func() error {
		h, err := fib.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		st, ok, err = h.Multipath(254, config.RouteProtocol, netip.MustParsePrefix(prefix))
		return err
	})
	if err != nil {
		t.Fatalf("read %s route on %s: %v", prefix, host, err)
	}
	return st, ok
}

// viaDevs names the devices of a route's next hops, with their weights.
func viaDevs(t *testing.T, l *Lab, host string, st fib.MultipathState) map[string]int {
	t.Helper()
	h := nsHandle(t, l, host)
	defer h.Close()
	out := map[string]int{}
	for _, nh := range st.Nexthops {
		link, err := h.LinkByIndex(nh.LinkIndex)
		if err != nil {
			t.Fatalf("next hop device %d: %v", nh.LinkIndex, err)
		}
		out[link.Attrs().Name] = nh.Weight
	}
	return out
}

func nsHandle(t *testing.T, l *Lab, host string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromName(l.NS(host))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// waitRoute waits until a host's route for prefix goes through exactly
// the devices in want (with those weights), and returns how long it took.
func waitRoute(t *testing.T, l *Lab, host, prefix string, want map[string]int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last map[string]int
	for time.Since(start) < limit {
		if st, ok := ecmpRoute(t, l, host, prefix); ok {
			last = viaDevs(t, l, host, st)
			if fmt.Sprint(last) == fmt.Sprint(want) {
				return time.Since(start)
			}
		} else {
			last = nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: route %s goes via %v after %s, want %v", host, prefix, last, limit, want)
	return 0
}

func (l *Lab) edgeTunnels(weights ...int) map[string]int {
	m := map[string]int{}
	for i, c := range Carriers {
		m[l.EdgeTunnel(c)] = weights[i]
	}
	return m
}

// hubTunnels is the hub's tunnels with the weights the edge gave them
// (link bandwidth on its BGP sessions); none: 1 each.
func (l *Lab) hubTunnels(weights ...int) map[string]int {
	m := map[string]int{}
	for i, c := range Carriers {
		m[l.HubTunnel(c)] = 1
		if i < len(weights) {
			m[l.HubTunnel(c)] = weights[i]
		}
	}
	return m
}

func TestECMPRoutesOnBothSites(t *testing.T) {
	l := needLab(t)
	for _, p := range []string{"0.0.0.0/0", "::/0"} {
		took := waitRoute(t, l, "home", p, l.edgeTunnels(1, 1, 1), 15*time.Second)
		t.Logf("edge %s via three tunnels (waited %s)", p, took.Round(time.Millisecond))
	}
	for _, p := range []string{LANPrefix, LANPrefix6} {
		waitRoute(t, l, "hub", p, l.hubTunnels(), 15*time.Second)
	}
	st, _ := ecmpRoute(t, l, "home", "0.0.0.0/0")
	if st.GroupID == 0 {
		t.Log("plain multipath in use (no resilient groups on this kernel)")
	}
	for i, nh := range sortByDev(t, l, st) {
		hub4, _, _, _ := TunnelAddrs(i)
		switch {
		case st.GroupID != 0 && nh.Gateway.IsValid():
			// One device-only member per dual-stack tunnel serves both
			// defaults' groups (ecmp's kernelForm).
			t.Errorf("next hop %d via %s in the kernel, want a device-only member shared with the IPv6 group", i, nh.Gateway)
		case st.GroupID == 0 && nh.Gateway.String() != hub4:
			t.Errorf("next hop %d via %s, want the hub's tunnel address %s", i, nh.Gateway, hub4)
		}
	}
	// Status names BGP's next hops, the hub's tunnel addresses, either way.
	var want, got []string
	for i := range Carriers {
		hub4, _, _, _ := TunnelAddrs(i)
		want = append(want, hub4)
	}
	for _, r := range status(t, l, "edge").ECMP.Routes {
		for _, nh := range r.NextHops {
			if r.Prefix == "0.0.0.0/0" {
				got = append(got, nh.Via)
			}
		}
	}
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Errorf("status: the IPv4 default via %q, want the hub's tunnel addresses %q", got, want)
	}
}

// sortByDev orders a route's next hops by carrier.
func sortByDev(t *testing.T, l *Lab, st fib.MultipathState) []fib.WeightedNexthop {
	h := nsHandle(t, l, "home")
	defer h.Close()
	out := make([]fib.WeightedNexthop, len(Carriers))
	for _, nh := range st.Nexthops {
		link, _ := h.LinkByIndex(nh.LinkIndex)
		for i, c := range Carriers {
			if link != nil && link.Attrs().Name == l.EdgeTunnel(c) {
				out[i] = nh
			}
		}
	}
	return out
}

// The import filter: the hub also announces 198.18.250.0/24, which the
// edge does not accept.
func TestImportFilterRefusesExtraPrefix(t *testing.T) {
	l := needLab(t)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	if _, ok := ecmpRoute(t, l, "home", "198.18.250.0/24"); ok {
		t.Error("edge installed 198.18.250.0/24, which its import filter refuses")
	}
	edge := status(t, l, "edge")
	for _, link := range edge.ECMP.Links {
		for _, p := range link.BGP {
			if p.Family == "ipv4-unicast" && (p.Received != 2 || p.Accepted != 1) {
				t.Errorf("%s: received %d accepted %d, want 2 received (default + the extra) and 1 accepted", p.Name, p.Received, p.Accepted)
			}
		}
	}
}

func TestLANReachesInternetThroughHub(t *testing.T) {
	l := needLab(t)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	seen, err := l.WhoAmI("lan", WebAddr)
	if err != nil {
		t.Fatal(err)
	}
	if seen != HubPublic {
		t.Errorf("ul-web sees ul-lan as %s, want the hub's public address %s", seen, HubPublic)
	}
	waitRoute(t, l, "home", "::/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	if err := ping(l.NS("lan"), WebAddr6); err != nil {
		t.Errorf("IPv6 through the tunnels: %v", err)
	}
}

// flowShares sends n one-packet UDP flows from ul-lan to ul-web and
// returns each edge tunnel's share of the packets it carried.
func flowShares(t *testing.T, l *Lab, n int) map[string]float64 {
	t.Helper()
	predicted := map[string]int{}
	for _, d := range flowDevsFrom(t, l, 30000, n) {
		predicted[d]++
	}
	t.Logf("the FIB sends these flows: %v", predicted)
	before := tunnelTx(t, l)
	err := InNS(l.NS("lan"), func() error {
		dst := &net.UDPAddr{IP: net.ParseIP(WebAddr), Port: WhoAmIPort}
		for i := 0; i < n; i++ {
			// One source port per flow, so that n flows are n distinct
			// 5-tuples (an ephemeral port may be handed out again).
			src := &net.UDPAddr{IP: net.ParseIP(LANHost), Port: 30000 + i}
			c, err := net.DialUDP("udp", src, dst)
			if err != nil {
				return err
			}
			c.Write([]byte("flow"))
			c.Close()
			if i%50 == 49 {
				// Let wireguard-go drain its TUN queue: a burst beyond it
				// is dropped before the counters below see it.
				time.Sleep(2 * time.Millisecond)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	after := tunnelTx(t, l)
	total := 0.0
	for k := range after {
		total += float64(after[k] - before[k])
	}
	t.Logf("the tunnels carried: docomo %d, softbank %d, rakuten %d packets",
		after["docomo"]-before["docomo"], after["softbank"]-before["softbank"], after["rakuten"]-before["rakuten"])
	shares := map[string]float64{}
	for k := range after {
		shares[k] = float64(after[k]-before[k]) / total
	}
	return shares
}

func tunnelTx(t *testing.T, l *Lab) map[string]uint64 {
	h := nsHandle(t, l, "home")
	defer h.Close()
	out := map[string]uint64{}
	for _, c := range Carriers {
		link, err := h.LinkByName(l.EdgeTunnel(c))
		if err != nil {
			t.Fatal(err)
		}
		// Dropped packets were routed to this tunnel too: the FIB's choice
		// is what is measured, not wireguard-go's speed.
		st := link.Attrs().Statistics
		out[c] = st.TxPackets + st.TxDropped
	}
	return out
}

func checkShares(t *testing.T, shares map[string]float64, weights []int) {
	t.Helper()
	sum := 0
	for _, w := range weights {
		sum += w
	}
	for i, c := range Carriers {
		want := float64(weights[i]) / float64(sum)
		if dev := (shares[c] - want) / want; dev > 0.10 || dev < -0.10 {
			t.Errorf("%s carried %.1f%% of the flows, want %.1f%% ±10%% of it", c, 100*shares[c], 100*want)
		}
	}
	t.Logf("shares: docomo %.1f%%, softbank %.1f%%, rakuten %.1f%% (weights %v)",
		100*shares["docomo"], 100*shares["softbank"], 100*shares["rakuten"], weights)
}

func TestFlowsSpreadByWeight(t *testing.T) {
	l := needLab(t)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	const flows = 3000
	waitBalanced(t, l, 20*time.Second)
	checkShares(t, flowShares(t, l, flows), []int{1, 1, 1})

	setWeights(t, l, 2, 1, 1)
	defer setWeights(t, l, 1, 1, 1)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(2, 1, 1), 10*time.Second)
	// The hub splits the downloads by the same weights: the edge tells
	// it by link bandwidth on its sessions.
	took := waitRoute(t, l, "hub", LANPrefix, l.hubTunnels(2, 1, 1), 10*time.Second)
	t.Logf("MEASURE the hub's route to the LAN at the edge's new weights 2:1:1 %v after the reload", took.Round(time.Millisecond))
	waitBalanced(t, l, 20*time.Second)
	checkShares(t, flowShares(t, l, flows), []int{2, 1, 1})
}

// waitBalanced waits until every resilient group on the edge has its
// buckets spread by its members' weights. The kernel moves a bucket to a
// member that gained weight only once the bucket has been idle for the
// group's idle timer, so that no busy flow is moved: right after a change
// the old shares still hold.
func waitBalanced(t *testing.T, l *Lab, limit time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		groups, balancedAll := l.GroupBalance()
		if balancedAll {
			if groups > 0 {
				t.Logf("%d resilient groups balanced to their weights after %s", groups, time.Since(start).Round(time.Millisecond))
			}
			return
		}
		if time.Since(start) > limit {
			out, _ := exec.Command("ip", "-n", l.NS("home"), "nexthop", "show").CombinedOutput()
			t.Fatalf("resilient groups not balanced within %s:\n%s", limit, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// setWeights sets the edge's weights and reloads it.
func setWeights(t *testing.T, l *Lab, w ...int) {
	t.Helper()
	if err := l.SetWeights(w...); err != nil {
		t.Fatal(err)
	}
}

// flowDevs asks the edge's FIB which tunnel each of n flows from ul-lan
// to ul-web takes (ip route get with the flow's ports: nothing is sent).
func flowDevs(t *testing.T, l *Lab, n int) []string {
	return flowDevsFrom(t, l, 20000, n)
}

func flowDevsFrom(t *testing.T, l *Lab, port, n int) []string {
	t.Helper()
	var batch strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&batch, "route get %s from %s iif lan0 ipproto udp sport %d dport %d\n", WebAddr, LANHost, port+i, WhoAmIPort)
	}
	cmd := exec.Command("ip", "-n", l.NS("home"), "-force", "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	out, _ := cmd.CombinedOutput()
	var devs []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == WebAddr {
			for k := range f {
				if f[k] == "dev" && k+1 < len(f) {
					devs = append(devs, f[k+1])
				}
			}
		}
	}
	if len(devs) != n {
		t.Fatalf("ip route get answered %d of %d flows:\n%s", len(devs), n, out)
	}
	return devs
}

func TestCarrierFailureLeavesFIBFast(t *testing.T) {
	l := needLab(t)
	all := l.edgeTunnels(1, 1, 1)
	waitRoute(t, l, "home", "0.0.0.0/0", all, 15*time.Second)
	before := flowDevs(t, l, 300)

	// The carrier's side of the link goes down, as when a carrier's modem
	// drops its link: the home router's interface loses carrier, which its
	// kernel reports at once; the tunnel must not wait for BFD.
	w := watch(t, l)
	start := time.Now()
	if err := l.SetCarrierLink("softbank", false); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			l.SetCarrierLink("softbank", true)
			restored = true
		}
	}
	defer restore()
	took, got, err := w.Wait(context.Background(), start, 5*time.Second, OnlyVia(l.EdgeTunnel("docomo"), l.EdgeTunnel("rakuten")))
	if err != nil {
		t.Fatalf("edge default via %v after softbank lost carrier", got)
	}
	t.Logf("MEASURE softbank lost carrier → FIB without it: %s", took.Round(100*time.Microsecond))
	if took > 100*time.Millisecond {
		t.Errorf("the tunnel left the FIB %s after its carrier was lost, want ≤ 100 ms (no BFD wait)", took)
	}

	after := flowDevs(t, l, 300)
	moved, survivors := 0, 0
	for i := range before {
		if before[i] == l.EdgeTunnel("softbank") {
			continue
		}
		survivors++
		if after[i] != before[i] {
			moved++
		}
	}
	st, _ := ecmpRoute(t, l, "home", "0.0.0.0/0")
	switch {
	case st.GroupID != 0 && moved > 0:
		t.Errorf("%d of %d flows on surviving tunnels moved, want 0 with a resilient group", moved, survivors)
	case st.GroupID == 0:
		t.Logf("plain multipath: %d of %d flows on surviving tunnels moved", moved, survivors)
	default:
		t.Logf("resilient group %d: 0 of %d flows on surviving tunnels moved", st.GroupID, survivors)
	}

	restore()
	back := waitRoute(t, l, "home", "0.0.0.0/0", all, 15*time.Second)
	t.Logf("softbank back in the FIB %s after its link came back (hold-down 1 s)", back.Round(time.Millisecond))
	if back < 900*time.Millisecond {
		t.Errorf("softbank returned after %s, before its 1 s hold-down", back)
	}
}

// TestFailoverThreadRealtime: each daemon writes its failovers from one
// thread at real-time priority 1 (ecmp.failover_priority's default), as
// `ps -eLo rtprio,policy` would show; every other thread stays normal.
func TestFailoverThreadRealtime(t *testing.T) {
	l := needLab(t)
	for _, site := range []string{"edge", "hub"} {
		pid, err := l.DaemonPID(site)
		if err != nil {
			t.Fatal(err)
		}
		fifo, others, err := threadPolicies(pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(fifo) != 1 || fifo[0] != 1 || others == 0 {
			t.Errorf("%s daemon: SCHED_FIFO threads at priorities %v and %d others, want one at priority 1", site, fifo, others)
		}
	}
}

// threadPolicies reads each thread's scheduling policy and real-time
// priority (fields 41 and 40 of /proc/PID/task/TID/stat): the priorities
// of the SCHED_FIFO threads, and how many threads are something else.
func threadPolicies(pid int) (fifo []int, others int, err error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		// The command name (field 2) may hold spaces: count after it.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 39 {
			return nil, 0, fmt.Errorf("%s: short stat line", task.Name())
		}
		prio, policy := f[37], f[38] // fields 40 and 41
		if policy == "1" {
			n, _ := strconv.Atoi(prio)
			fifo = append(fifo, n)
		} else {
			others++
		}
	}
	return fifo, others, nil
}

func TestHubRestartReconverges(t *testing.T) {
	l := needLab(t)
	all := l.edgeTunnels(1, 1, 1)
	waitRoute(t, l, "home", "0.0.0.0/0", all, 15*time.Second)
	if err := l.Stop("hub"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		if _, ok := ecmpRoute(t, l, "home", "0.0.0.0/0"); !ok {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("edge kept its default route 5 s after the hub stopped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("hub stopped: edge withdrew its default in %s", time.Since(start).Round(time.Millisecond))
	if e := explain(t, l, WebAddr); e.Kind != "none" {
		t.Errorf("explain with no route to ul-web: %+v", e)
	}
	if err := l.Start("hub"); err != nil {
		t.Fatal(err)
	}
	took := waitRoute(t, l, "home", "0.0.0.0/0", all, 20*time.Second)
	t.Logf("hub restarted: edge back on three tunnels in %s", took.Round(time.Millisecond))
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || seen != HubPublic {
		t.Errorf("after the hub restart ul-web sees %q (%v), want %s", seen, err, HubPublic)
	}
}
