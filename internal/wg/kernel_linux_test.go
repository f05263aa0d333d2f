package wg

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// implEnv selects the implementation the kernel tests create their tunnels
// with: unset is auto (the kernel's when the module is there, else the
// embedded userspace one); `make test-kernel` sets "kernel" in its VM, where
// Debian's kernel has the module, so a missing module fails instead of
// falling back.
const implEnv = "UPLINKD_TEST_WG_IMPL"

func testImpl(t *testing.T) config.Impl {
	t.Helper()
	switch v := config.Impl(os.Getenv(implEnv)); v {
	case "":
		return config.ImplAuto
	case config.ImplAuto, config.ImplKernel, config.ImplUserspace:
		return v
	default:
		t.Fatalf("%s=%q: want kernel, userspace or auto", implEnv, v)
		return ""
	}
}

// kernelOnly skips unless the tests were asked for the kernel's WireGuard.
func kernelOnly(t *testing.T) {
	t.Helper()
	if testImpl(t) != config.ImplKernel {
		t.Skipf("kernel WireGuard only: `make test-kernel` runs it in a VM (%s=kernel)", implEnv)
	}
}

// wgLinks lists the kernel's WireGuard links by name, as `ip` reports them.
func wgLinks(t *testing.T, ns string) []string {
	t.Helper()
	args := []string{"-j", "link", "show", "type", "wireguard"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	var links []struct {
		Name string `json:"ifname"`
	}
	if err := json.Unmarshal([]byte(sh(t, append([]string{"ip"}, args...)...)), &links); err != nil {
		t.Fatalf("ip -j link: %v", err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	return names
}

// waitHandshakes kicks m's tunnels until every one of them has completed a
// handshake, and returns their status.
func waitHandshakes(t *testing.T, m *Manager, within time.Duration) []TunnelStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m.Kick(nil)
		st := m.Status()
		done := true
		for _, s := range st {
			done = done && !s.LastHandshake.IsZero()
		}
		if done {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every tunnel has a handshake within %s: %+v", within, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// carriers is the edge's three uplinks in TestKernelHandshakesPinnedToCarriers.
var carriers = []string{"docomo", "softbank", "rakuten"}

// hubNS creates a named namespace standing for the hub and its carriers,
// opens a Manager inside it (its netlink and generic netlink sockets stay
// bound there, and so do the kernel WireGuard links it creates and their UDP
// sockets) and links it to this namespace by one veth pair per carrier:
// edge side c-NAME 100.64.I.2, hub side h-NAME 100.64.I.1. The hub's own
// address, 198.18.0.1, is on its lo and reachable from the edge only
// through a carrier's table.
func hubNS(t *testing.T) (string, *Manager) {
	t.Helper()
	name := fmt.Sprintf("uk-hub-%d", os.Getpid())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	hub, err := netns.NewNamed(name)
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	hub.Close()
	m := newManager(t)
	if err := netns.Set(orig); err != nil {
		t.Fatalf("back to the edge namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	sh(t, "ip", "link", "set", "lo", "up")
	sh(t, "ip", "-n", name, "link", "set", "lo", "up")
	sh(t, "ip", "-n", name, "addr", "add", "198.18.0.1/32", "dev", "lo")
	for i, c := range carriers {
		sh(t, "ip", "link", "add", "c-"+c, "type", "veth", "peer", "name", "h-"+c, "netns", name)
		sh(t, "ip", "addr", "add", fmt.Sprintf("100.64.%d.2/24", i+1), "dev", "c-"+c)
		sh(t, "ip", "-n", name, "addr", "add", fmt.Sprintf("100.64.%d.1/24", i+1), "dev", "h-"+c)
		sh(t, "ip", "link", "set", "c-"+c, "up")
		sh(t, "ip", "-n", name, "link", "set", "h-"+c, "up")
	}
	return name, m
}

// carrierTunnels is the desired state of both ends: the edge's three
// tunnels to 198.18.0.1, each marked and pinned to its carrier, and the
// hub's three, one listen port each.
func carrierTunnels(t *testing.T) (edge, hub Desired) {
	t.Helper()
	ek, hk := testKeys(t)
	edge = Desired{Site: "t", Impl: config.ImplKernel}
	hub = Desired{Site: "t", Impl: config.ImplKernel}
	for i, c := range carriers {
		port, mark := 51900+i, uint32(config.FwMarkBase+1+i)
		edge.Tunnels = append(edge.Tunnels, Tunnel{Name: "wgt-e-" + c, Uplink: c, MTU: 1380, PrivateKey: ek,
			Addresses: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 200, byte(2*i + 1)}), 31)},
			FwMark:    mark,
			Peer: Peer{PublicKey: hk.PublicKey(), Endpoint: fmt.Sprintf("198.18.0.1:%d", port),
				Keepalive: 25 * time.Second, AllowedIPs: allTraffic}})
		edge.Pins = append(edge.Pins, Pin{Uplink: c, Interface: "c-" + c,
			Gateway: netip.AddrFrom4([4]byte{100, 64, byte(i + 1), 1}),
			FwMark:  mark, Table: config.TableBase + 1 + i, Priority: config.RulePriority + 1 + i})
		hub.Tunnels = append(hub.Tunnels, Tunnel{Name: "wgt-h-" + c, Uplink: c, MTU: 1380, PrivateKey: hk,
			ListenPort: port,
			Addresses:  []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 200, byte(2 * i)}), 31)},
			Peer:       Peer{PublicKey: ek.PublicKey(), AllowedIPs: allTraffic}})
	}
	return edge, hub
}

// Three tunnels to one hub address, each of whose outer packets must leave
// by its own carrier: only the fwmark rules send them there (the edge's
// main table has no route to the hub at all), and the hub, in its own
// namespace, sees each edge tunnel at its carrier's address.
func TestKernelHandshakesPinnedToCarriers(t *testing.T) {
	kernelOnly(t)
	if !nstest.Enter(t) {
		return
	}
	ns, hm := hubNS(t)
	defer hm.Close()
	em := newManager(t)
	defer em.Close()
	edge, hub := carrierTunnels(t)
	if _, err := hm.Apply(hub); err != nil {
		t.Fatalf("hub apply: %v", err)
	}
	if _, err := em.Apply(edge); err != nil {
		t.Fatalf("edge apply: %v", err)
	}
	if out, err := exec.Command("ip", "route", "get", "198.18.0.1").CombinedOutput(); err == nil {
		t.Fatalf("the edge's main table reaches the hub, so pinning proves nothing: %s", out)
	}

	start := time.Now()
	st := waitHandshakes(t, em, 10*time.Second)
	t.Logf("three handshakes in %s", time.Since(start).Round(time.Millisecond))
	for _, s := range st {
		if s.Impl != string(config.ImplKernel) {
			t.Errorf("edge tunnel %s: implementation %q, want kernel", s.Name, s.Impl)
		}
	}
	hst := waitHandshakes(t, hm, 5*time.Second)
	for i, s := range hst {
		want := fmt.Sprintf("100.64.%d.2", i+1)
		if ap, err := netip.ParseAddrPort(s.Endpoint); err != nil || ap.Addr().String() != want {
			t.Errorf("hub tunnel %s sees the edge at %q, want %s (carrier %s)", s.Name, s.Endpoint, want, carriers[i])
		}
		if s.Impl != string(config.ImplKernel) {
			t.Errorf("hub tunnel %s: implementation %q, want kernel", s.Name, s.Impl)
		}
	}
	if got := wgLinks(t, ns); len(got) != 3 {
		t.Errorf("hub namespace's wireguard links: %q, want 3", got)
	}
	for i, c := range carriers {
		out := sh(t, "wg", "show", "wgt-e-"+c)
		mark := fmt.Sprintf("fwmark: %#x", config.FwMarkBase+1+i)
		if !strings.Contains(out, mark) || !strings.Contains(out, "latest handshake") {
			t.Errorf("wg show wgt-e-%s lacks %q or a handshake:\n%s", c, mark, out)
		}
		// Inner traffic through each tunnel: the hub's tunnel address answers.
		hubAddr := fmt.Sprintf("198.18.200.%d", 2*i)
		if out, err := exec.Command("ping", "-c", "1", "-W", "2", hubAddr).CombinedOutput(); err != nil {
			t.Errorf("ping %s through wgt-e-%s: %v\n%s", hubAddr, c, err, out)
		}
	}
}

// A restart after kill -9 finds the kernel links of the run before: the
// new manager adopts them (nothing created, nothing duplicated), and its
// Close removes them.
func TestKernelLinksAdoptedAfterRestart(t *testing.T) {
	kernelOnly(t)
	if !nstest.Enter(t) {
		return
	}
	carrierLink(t)
	d := pair(t, "docomo", "softbank")
	before := newManager(t) // never closed, as after kill -9
	r, err := before.Apply(d)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(r.Changes, "\n"), "create kernel wireguard"); n != 4 {
		t.Fatalf("first run created %d kernel links, want 4; changes: %q", n, r.Changes)
	}

	after := newManager(t)
	r, err = after.Apply(d)
	if err != nil {
		t.Fatalf("apply after restart: %v", err)
	}
	for _, c := range r.Changes {
		if strings.Contains(c, "create") {
			t.Errorf("restart created a link instead of adopting: %q", c)
		}
	}
	if got := wgLinks(t, ""); len(got) != 4 {
		t.Errorf("wireguard links after restart: %q, want the 4 of the first run", got)
	}
	for _, s := range waitHandshakes(t, after, 5*time.Second) {
		if s.Impl != string(config.ImplKernel) {
			t.Errorf("adopted tunnel %s: implementation %q, want kernel", s.Name, s.Impl)
		}
	}
	if err := after.Close(); err != nil {
		t.Fatal(err)
	}
	if got := wgLinks(t, ""); len(got) != 0 {
		t.Errorf("wireguard links after Close: %q", got)
	}
}

// A kernel link deleted under the daemon (an admin, a network manager) is
// created again by the next Apply and handshakes again.
func TestKernelLinkRecreatedAfterDelete(t *testing.T) {
	kernelOnly(t)
	if !nstest.Enter(t) {
		return
	}
	carrierLink(t)
	m := newManager(t)
	defer m.Close()
	d := pair(t, "docomo")
	if _, err := m.Apply(d); err != nil {
		t.Fatal(err)
	}
	waitHandshakes(t, m, 5*time.Second)
	sh(t, "ip", "link", "del", "wgt-e-docomo")
	r, err := m.Apply(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Changes, "\n"), "create kernel wireguard wgt-e-docomo") {
		t.Errorf("deleted link not created again; changes: %q", r.Changes)
	}
	st := waitHandshakes(t, m, 5*time.Second)
	if got := sh(t, "ip", "-d", "link", "show", "wgt-e-docomo"); !strings.Contains(got, "wireguard") {
		t.Errorf("recreated link is not a kernel wireguard link:\n%s", got)
	}
	if st[0].Impl != string(config.ImplKernel) {
		t.Errorf("recreated tunnel: implementation %q, want kernel", st[0].Impl)
	}
}
