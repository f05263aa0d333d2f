// Go's listeners default to MPTCP, on which GTSM cannot work (see
// ErrMPTCPListener); the daemon's main package turns it off the same way.
//
//go:debug multipathtcp=0
package bgp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
)

const (
	hubASN  = 65000
	edgeASN = 65001
	// converge bounds every wait for BGP: the first dial is at once
	// (third_party/gobgp), a retry after a failure ConnectRetry (1 s) plus
	// up to 1 s later.
	converge = 10 * time.Second
)

var (
	v4Default = netip.MustParsePrefix("0.0.0.0/0")
	v6Default = netip.MustParsePrefix("::/0")
	extra     = netip.MustParsePrefix("198.51.100.0/24") // announced, never accepted
	lan       = netip.MustParsePrefix("203.0.113.0/24")
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// testLog collects log lines and prints them only for a failed test, since
// GoBGP's goroutines may log after the test returns.
func testLog(t *testing.T) *slog.Logger {
	t.Helper()
	w := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", w.String())
		}
	})
	level := slog.LevelInfo
	if os.Getenv("BGP_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort returns a TCP port free on 127.0.0.1 and ::1 at the time of the
// call.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l4, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l4.Addr().(*net.TCPAddr).Port
		l6, err := net.Listen("tcp6", fmt.Sprintf("[::1]:%d", port))
		l4.Close()
		if err == nil {
			l6.Close()
			return port
		}
	}
	t.Fatal("no free port on 127.0.0.1 and ::1")
	return 0
}

// start starts a speaker and stops it when the test ends.
func start(t *testing.T, c Config) *Speaker {
	t.Helper()
	s := New(testLog(t))
	if err := s.Start(context.Background(), c); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

// eventually polls check until it returns "" and fails with its last
// answer after timeout. It returns how long it took.
func eventually(t *testing.T, timeout time.Duration, check func() string) time.Duration {
	t.Helper()
	begin := time.Now()
	for {
		diff := check()
		if diff == "" {
			return time.Since(begin)
		}
		if time.Since(begin) > timeout {
			t.Fatalf("after %v: %s", timeout, diff)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// routesAre returns a check that the speaker's routes are want. A path
// of want with no ASPathLen came from the one AS of the far side, as
// every test's does unless it says otherwise: 1.
func routesAre(s *Speaker, want map[netip.Prefix][]Path) func() string {
	want = maps.Clone(want)
	for p, paths := range want {
		paths = slices.Clone(paths)
		for i := range paths {
			if paths[i].ASPathLen == 0 {
				paths[i].ASPathLen = 1
			}
		}
		want[p] = paths
	}
	return func() string {
		got, err := s.Routes(context.Background())
		if err != nil {
			return fmt.Sprintf("routes: %v", err)
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			return "routes (-want +got):\n" + diff
		}
		return ""
	}
}

func drain(c <-chan struct{}) {
	select {
	case <-c:
	default:
	}
}

func fired(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(converge):
		t.Errorf("Changes() did not fire after %s", what)
	}
}

// pair is a hub and an edge over one v4 and one v6 session on loopback.
type pair struct {
	hubCfg, edgeCfg Config
}

func newPair(t *testing.T) pair {
	port := freePort(t)
	hub := Config{
		ASN: hubASN, RouterID: addr("10.255.0.1"), Passive: true,
		ListenPort:  port,
		ListenAddrs: []netip.Addr{addr("127.0.0.2"), addr("::1")},
		HoldTime:    3 * time.Second, Keepalive: time.Second,
		Peers: []Peer{
			{Name: "edge", Address: addr("127.0.0.1"), Local: addr("127.0.0.2"), ASN: edgeASN},
			{Name: "edge-v6", Address: addr("::1"), Local: addr("::1"), ASN: edgeASN},
		},
		Originate: []netip.Prefix{v4Default, v6Default, extra},
		Accept:    []netip.Prefix{lan},
	}
	edge := Config{
		ASN: edgeASN, RouterID: addr("10.255.0.2"), ListenPort: -1,
		HoldTime: 3 * time.Second, Keepalive: time.Second,
		Peers: []Peer{
			{Name: "hub", Address: addr("127.0.0.2"), Local: addr("127.0.0.1"), ASN: hubASN, Port: port},
			// Over ::1 both ends share the address: the hub tells the
			// edge's connection by its source, which matches its neighbor.
			{Name: "hub-v6", Address: addr("::1"), Local: addr("::1"), ASN: hubASN, Port: port},
		},
		Originate: []netip.Prefix{lan},
		Accept:    []netip.Prefix{v4Default, v6Default},
	}
	return pair{hub, edge}
}

var defaults = map[netip.Prefix][]Path{
	v4Default: {{Peer: "hub", NextHop: addr("127.0.0.2")}},
	v6Default: {{Peer: "hub-v6", NextHop: addr("::1")}},
}

func TestSessionsCarryDefaultsThroughFilter(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	begin := time.Now()
	hub := start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))
	t.Logf("MEASURE start of both to defaults in edge Routes(): %v", time.Since(begin).Round(time.Millisecond))

	eventually(t, converge, routesAre(hub, map[netip.Prefix][]Path{
		lan: {{Peer: "edge", NextHop: addr("127.0.0.1")}},
	}))

	// The hub announced extra on v4: received, not accepted.
	want := []PeerState{
		{Name: "hub", Address: addr("127.0.0.2"), Family: "ipv4-unicast", State: "established",
			Established: true, Received: 2, Accepted: 1},
		{Name: "hub-v6", Address: addr("::1"), Family: "ipv6-unicast", State: "established",
			Established: true, Received: 1, Accepted: 1},
	}
	got := edge.Peers(context.Background())
	for i := range got {
		if got[i].Since.IsZero() || time.Since(got[i].Since) > time.Minute {
			t.Errorf("peer %s: Since = %v, want a recent time", got[i].Name, got[i].Since)
		}
		got[i].Since = time.Time{}
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("edge Peers() (-want +got):\n%s", diff)
	}
}

// TestFirstConnectIsImmediate: an edge started against a hub that listens
// has both sessions established well within GoBGP's own first wait, which
// was rand(1 s) + 1 s before the first dial (third_party/gobgp/PATCHES.md).
func TestFirstConnectIsImmediate(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	start(t, p.hubCfg)
	begin := time.Now()
	edge := start(t, p.edgeCfg)
	eventually(t, converge, func() string {
		for _, ps := range edge.Peers(context.Background()) {
			if !ps.Established {
				return fmt.Sprintf("%s is %s", ps.Name, ps.State)
			}
		}
		return ""
	})
	took := time.Since(begin)
	t.Logf("MEASURE edge start to both sessions established: %v", took.Round(time.Millisecond))
	if took >= 700*time.Millisecond {
		t.Errorf("sessions established %v after the edge started; the first dial should not wait (GoBGP's own wait is at least 1 s)", took)
	}
}

func TestApplyUpdatesFilterAndAnnouncements(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	hub := start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))
	since := sinceByName(edge.Peers(context.Background()))

	more := netip.MustParsePrefix("192.0.2.128/25")
	p.hubCfg.Originate = []netip.Prefix{v4Default, extra, more} // ::/0 withdrawn
	if err := hub.Apply(context.Background(), p.hubCfg); err != nil {
		t.Fatalf("hub apply: %v", err)
	}
	p.edgeCfg.Accept = append(p.edgeCfg.Accept, extra, more)
	drain(edge.Changes())
	if err := edge.Apply(context.Background(), p.edgeCfg); err != nil {
		t.Fatalf("edge apply: %v", err)
	}
	fired(t, edge.Changes(), "Apply")
	eventually(t, converge, routesAre(edge, map[netip.Prefix][]Path{
		v4Default: {{Peer: "hub", NextHop: addr("127.0.0.2")}},
		extra:     {{Peer: "hub", NextHop: addr("127.0.0.2")}},
		more:      {{Peer: "hub", NextHop: addr("127.0.0.2")}},
	}))
	if diff := cmp.Diff(since, sinceByName(edge.Peers(context.Background()))); diff != "" {
		t.Errorf("sessions restarted by Apply: Since (-before +after):\n%s", diff)
	}
}

func sinceByName(ps []PeerState) map[string]time.Time {
	m := map[string]time.Time{}
	for _, p := range ps {
		m[p.Name] = p.Since
	}
	return m
}

func TestHubStopWithdrawsAndRestartReconverges(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	hub := start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))

	drain(edge.Changes())
	// Poll while Stop runs: the withdrawal may land before Stop returns.
	withdrawn := make(chan time.Duration, 1)
	begin := time.Now()
	go func() {
		for time.Since(begin) < converge {
			if routes, err := edge.Routes(context.Background()); err == nil && len(routes) == 0 {
				withdrawn <- time.Since(begin)
				return
			}
			time.Sleep(time.Millisecond)
		}
		withdrawn <- -1
	}()
	if err := hub.Stop(context.Background()); err != nil {
		t.Fatalf("hub stop: %v", err)
	}
	stopped := time.Since(begin)
	took := <-withdrawn
	if took < 0 {
		t.Fatalf("edge still has routes %v after hub stop", converge)
	}
	t.Logf("MEASURE hub Stop() to edge Routes() empty: %v (Stop itself returned after %v)",
		took.Round(100*time.Microsecond), stopped.Round(100*time.Microsecond))
	fired(t, edge.Changes(), "hub stop")
	for _, ps := range edge.Peers(context.Background()) {
		if ps.Established || !strings.Contains(ps.LastError, "cease") {
			t.Errorf("edge peer %s after hub stop: established %v, last error %q, want down by a cease",
				ps.Name, ps.Established, ps.LastError)
		}
	}

	begin = time.Now()
	if err := hub.Start(context.Background(), p.hubCfg); err != nil {
		t.Fatalf("hub restart: %v", err)
	}
	eventually(t, converge, routesAre(edge, defaults))
	t.Logf("MEASURE hub restart to edge defaults back: %v", time.Since(begin).Round(time.Millisecond))
}

func TestMaxPrefixesReported(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	p.edgeCfg.MaxPrefixes = 1 // the hub sends 2 on v4, 1 on v6
	start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, func() string {
		for _, ps := range edge.Peers(context.Background()) {
			if ps.Name == "hub" && ps.LastError == "max-prefix 1 exceeded" && !ps.Established {
				return ""
			}
		}
		return fmt.Sprintf("peers: %+v", edge.Peers(context.Background()))
	})
	// The v6 session stays within the limit and keeps its default.
	eventually(t, converge, routesAre(edge, map[netip.Prefix][]Path{
		v6Default: {{Peer: "hub-v6", NextHop: addr("::1")}},
	}))
}

// hubThree is one hub with three tunnels' worth of addresses: the edge's
// three sessions reach it at 127.0.0.2-4 from 127.0.0.11-13.
func hubThree(port int) (hub, edge Config) {
	names := []string{"docomo", "softbank", "rakuten"}
	hub = Config{
		ASN: hubASN, RouterID: addr("10.255.0.1"), Passive: true, ListenPort: port,
		ListenAddrs: []netip.Addr{addr("127.0.0.2"), addr("127.0.0.3"), addr("127.0.0.4")},
		HoldTime:    3 * time.Second, Keepalive: time.Second,
		Originate: []netip.Prefix{v4Default},
		Accept:    []netip.Prefix{lan},
	}
	edge = Config{
		ASN: edgeASN, RouterID: addr("10.255.0.2"), ListenPort: -1,
		HoldTime: 3 * time.Second, Keepalive: time.Second,
		Originate: []netip.Prefix{lan},
		Accept:    []netip.Prefix{v4Default},
	}
	for i, n := range names {
		far := netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)})
		near := netip.AddrFrom4([4]byte{127, 0, 0, byte(11 + i)})
		hub.Peers = append(hub.Peers, Peer{Name: "edge-" + n, Address: near, Local: far, ASN: edgeASN})
		edge.Peers = append(edge.Peers, Peer{Name: n, Address: far, Local: near, ASN: hubASN, Port: port})
	}
	return hub, edge
}

func TestThreeTunnelsApplyRemovesOne(t *testing.T) {
	t.Parallel()
	hubCfg, edgeCfg := hubThree(freePort(t))
	begin := time.Now()
	start(t, hubCfg)
	edge := start(t, edgeCfg)
	eventually(t, converge, routesAre(edge, map[netip.Prefix][]Path{v4Default: {
		{Peer: "docomo", NextHop: addr("127.0.0.2")},
		{Peer: "rakuten", NextHop: addr("127.0.0.4")},
		{Peer: "softbank", NextHop: addr("127.0.0.3")},
	}}))
	t.Logf("MEASURE start of both to 3 paths for 0.0.0.0/0: %v", time.Since(begin).Round(time.Millisecond))
	before := sinceByName(edge.Peers(context.Background()))

	edgeCfg.Peers = []Peer{edgeCfg.Peers[0], edgeCfg.Peers[2]} // softbank gone
	drain(edge.Changes())
	if err := edge.Apply(context.Background(), edgeCfg); err != nil {
		t.Fatalf("apply: %v", err)
	}
	fired(t, edge.Changes(), "Apply")
	// DeletePeer drops the Adj-RIB-In at once: no waiting.
	if diff := routesAre(edge, map[netip.Prefix][]Path{v4Default: {
		{Peer: "docomo", NextHop: addr("127.0.0.2")},
		{Peer: "rakuten", NextHop: addr("127.0.0.4")},
	}})(); diff != "" {
		t.Error(diff)
	}
	after := edge.Peers(context.Background())
	if len(after) != 2 {
		t.Fatalf("peers after apply: %+v, want docomo and rakuten", after)
	}
	for _, ps := range after {
		if !ps.Established || !ps.Since.Equal(before[ps.Name]) {
			t.Errorf("peer %s: established %v since %v, want still up since %v",
				ps.Name, ps.Established, ps.Since, before[ps.Name])
		}
	}
}

// TestStopLeavesNoGoroutines runs alone (not parallel): it counts the
// process's goroutines.
func TestStopLeavesNoGoroutines(t *testing.T) {
	baseline := runtime.NumGoroutine()
	p := newPair(t)
	for range 2 { // a second round shows nothing accumulates
		hub := New(testLog(t))
		edge := New(testLog(t))
		if err := hub.Start(context.Background(), p.hubCfg); err != nil {
			t.Fatal(err)
		}
		if err := edge.Start(context.Background(), p.edgeCfg); err != nil {
			t.Fatal(err)
		}
		eventually(t, converge, routesAre(edge, defaults))
		edge.Stop(context.Background())
		hub.Stop(context.Background())
	}
	eventually(t, 5*time.Second, func() string {
		if n := runtime.NumGoroutine(); n > baseline {
			buf := make([]byte, 1<<20)
			return fmt.Sprintf("%d goroutines after Stop, %d before:\n%s",
				n, baseline, buf[:runtime.Stack(buf, true)])
		}
		return ""
	})
}

// TestStartFailureLeavesNothing runs alone (not parallel): it counts the
// process's goroutines.
func TestStartFailureLeavesNothing(t *testing.T) {
	baseline := runtime.NumGoroutine()
	p := newPair(t)
	busy, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.2:%d", p.hubCfg.ListenPort))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s := New(testLog(t))
	err = s.Start(context.Background(), p.hubCfg)
	if err == nil || !strings.Contains(err.Error(), "listen on port") {
		t.Fatalf("start on a busy port: %v, want a listen error", err)
	}
	if err := s.Apply(context.Background(), p.hubCfg); err != ErrNotStarted {
		t.Errorf("apply after failed start: %v, want ErrNotStarted", err)
	}
	if got := s.Peers(context.Background()); len(got) != 0 {
		t.Errorf("peers after failed start: %+v, want none", got)
	}
	eventually(t, 5*time.Second, func() string {
		if n := runtime.NumGoroutine(); n > baseline {
			return fmt.Sprintf("%d goroutines after a failed start, %d before", n, baseline)
		}
		return ""
	})
}

func TestApplyGlobalChangeRestarts(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))
	before := sinceByName(edge.Peers(context.Background()))
	// GoBGP keeps a session's uptime in whole seconds, and the new
	// sessions come up within milliseconds: start them in a later second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	p.edgeCfg.RouterID = addr("10.255.0.3")
	if err := edge.Apply(context.Background(), p.edgeCfg); err != nil {
		t.Fatalf("apply: %v", err)
	}
	eventually(t, converge, routesAre(edge, defaults))
	for name, since := range sinceByName(edge.Peers(context.Background())) {
		if !since.After(before[name]) {
			t.Errorf("peer %s: up since %v, want a new session after %v", name, since, before[name])
		}
	}
}

// TestPrependSteersTheHub: the edge prepends its AS on docomo's session
// (a carrier past its hard budget): the hub's path through docomo grows
// to 4 ASes while the others stay at 1, with no session reset; cleared,
// it is 1 again.
func TestPrependSteersTheHub(t *testing.T) {
	t.Parallel()
	hubCfg, edgeCfg := hubThree(freePort(t))
	hub := start(t, hubCfg)
	edge := start(t, edgeCfg)
	paths := func(docomo int) map[netip.Prefix][]Path {
		return map[netip.Prefix][]Path{lan: {
			{Peer: "edge-docomo", NextHop: addr("127.0.0.11"), ASPathLen: docomo},
			{Peer: "edge-rakuten", NextHop: addr("127.0.0.13")},
			{Peer: "edge-softbank", NextHop: addr("127.0.0.12")},
		}}
	}
	eventually(t, converge, routesAre(hub, paths(1)))
	before := sinceByName(hub.Peers(context.Background()))
	if err := edge.SetExport(context.Background(), map[netip.Addr]Export{addr("127.0.0.2"): {Prepend: 3}}); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, converge, routesAre(hub, paths(4)))
	t.Logf("MEASURE prepend on docomo's session → the hub's path 4 ASes long: %v", took.Round(time.Millisecond))
	if err := edge.SetExport(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, converge, routesAre(hub, paths(1)))
	if diff := cmp.Diff(before, sinceByName(hub.Peers(context.Background()))); diff != "" {
		t.Errorf("sessions restarted by the prepend: Since (-before +after):\n%s", diff)
	}
}

// TestWeightsReachTheHub: the edge marks its sessions with its tunnels'
// weights (3:2:1, as link bandwidth in Mbit/s) and docomo's with a
// prepend too; the hub's paths carry them, WeightOf reads the weights
// back, and no session restarts.
func TestWeightsReachTheHub(t *testing.T) {
	t.Parallel()
	hubCfg, edgeCfg := hubThree(freePort(t))
	hub := start(t, hubCfg)
	edge := start(t, edgeCfg)
	eventually(t, converge, routesAre(hub, map[netip.Prefix][]Path{lan: {
		{Peer: "edge-docomo", NextHop: addr("127.0.0.11"), ASPathLen: 1},
		{Peer: "edge-rakuten", NextHop: addr("127.0.0.13"), ASPathLen: 1},
		{Peer: "edge-softbank", NextHop: addr("127.0.0.12"), ASPathLen: 1},
	}}))
	before := sinceByName(hub.Peers(context.Background()))
	err := edge.SetExport(context.Background(), map[netip.Addr]Export{
		addr("127.0.0.2"): {Weight: 3, Prepend: 1}, addr("127.0.0.3"): {Weight: 2}, addr("127.0.0.4"): {Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, converge, func() string {
		routes, err := hub.Routes(context.Background())
		if err != nil {
			return err.Error()
		}
		got := map[string][2]int{}
		for _, p := range routes[lan] {
			got[p.Peer] = [2]int{WeightOf(p.Bandwidth), p.ASPathLen}
		}
		want := map[string][2]int{"edge-docomo": {3, 2}, "edge-softbank": {2, 1}, "edge-rakuten": {1, 1}}
		if !maps.Equal(got, want) {
			return fmt.Sprintf("hub's paths (weight, AS path length): %v, want %v", got, want)
		}
		return ""
	})
	if diff := cmp.Diff(before, sinceByName(hub.Peers(context.Background()))); diff != "" {
		t.Errorf("sessions restarted by the marks: Since (-before +after):\n%s", diff)
	}
}

// negotiated is GoBGP's negotiated hold time and keepalive of each of the
// speaker's established sessions, by neighbor address.
func negotiated(t *testing.T, s *Speaker) map[string][2]uint64 {
	t.Helper()
	s.mu.Lock()
	r := s.run
	s.mu.Unlock()
	out := map[string][2]uint64{}
	err := r.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			st := p.GetTimers().GetState()
			out[p.GetConf().GetNeighborAddress()] = [2]uint64{st.GetNegotiatedHoldTime(), st.GetKeepaliveInterval()}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestApplyNewTimersReestablish: a reload with other BGP timers (the frugal
// mode's 60/180 s) re-creates the sessions, which then run at them: the
// negotiated hold time and keepalive change, and the routes come back.
func TestApplyNewTimersReestablish(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	hub := start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))
	if got := negotiated(t, edge); got["127.0.0.2"] != [2]uint64{3, 1} {
		t.Fatalf("before: negotiated %v, want hold 3 s, keepalive 1 s", got)
	}
	for _, c := range []*Config{&p.hubCfg, &p.edgeCfg} {
		c.HoldTime, c.Keepalive = 180*time.Second, 60*time.Second
	}
	if err := hub.Apply(context.Background(), p.hubCfg); err != nil {
		t.Fatal(err)
	}
	if err := edge.Apply(context.Background(), p.edgeCfg); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*converge, func() string {
		if got := negotiated(t, edge); got["127.0.0.2"] != [2]uint64{180, 60} || got["::1"] != [2]uint64{180, 60} {
			return fmt.Sprintf("edge's sessions negotiated %v, want hold 180 s, keepalive 60 s on both", got)
		}
		return ""
	})
	eventually(t, converge, routesAre(edge, defaults))
}
