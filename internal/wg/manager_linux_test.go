package wg

import (
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// The tests below run each in a fresh network namespace (nstest), with a
// veth pair standing in for a carrier link: up0 (edge side, 100.64.9.2) and
// up1 (carrier side, 100.64.9.1).

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func carrierLink(t *testing.T) {
	t.Helper()
	sh(t, "ip", "link", "set", "lo", "up")
	sh(t, "ip", "link", "add", "up0", "type", "veth", "peer", "name", "up1")
	sh(t, "ip", "addr", "add", "100.64.9.2/24", "dev", "up0")
	sh(t, "ip", "addr", "add", "100.64.9.1/24", "dev", "up1")
	sh(t, "ip", "link", "set", "up0", "up")
	sh(t, "ip", "link", "set", "up1", "up")
}

func testKeys(t *testing.T) (edge, hub wgtypes.Key) {
	t.Helper()
	e, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	h, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return e, h
}

// pair is an edge tunnel pinned to up0 and the hub tunnel it reaches, in
// one namespace: enough to exercise every kernel object the package owns.
func pair(t *testing.T, uplinks ...string) Desired {
	t.Helper()
	edge, hub := testKeys(t)
	d := Desired{Site: "t", Impl: testImpl(t)}
	for i, u := range uplinks {
		port := 51900 + i
		d.Tunnels = append(d.Tunnels,
			Tunnel{Name: "wgt-e-" + u, Uplink: u, MTU: 1380, PrivateKey: edge,
				Addresses: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 200, byte(2*i + 1)}), 31)},
				FwMark:    uint32(config.FwMarkBase + 1 + i),
				Peer: Peer{PublicKey: hub.PublicKey(), Endpoint: "100.64.9.1:" + strconv.Itoa(port),
					Keepalive: 25 * time.Second, AllowedIPs: allTraffic}},
			Tunnel{Name: "wgt-h-" + u, Uplink: u, MTU: 1380, PrivateKey: hub, ListenPort: port,
				Addresses: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 200, byte(2 * i)}), 31)},
				Peer:      Peer{PublicKey: edge.PublicKey(), AllowedIPs: allTraffic}})
		d.Pins = append(d.Pins, Pin{Uplink: u, Interface: "up0", Gateway: netip.MustParseAddr("100.64.9.1"),
			FwMark: uint32(config.FwMarkBase + 1 + i), Table: config.TableBase + 1 + i, Priority: config.RulePriority + 1 + i})
	}
	return d
}

func newManager(t *testing.T) *Manager {
	t.Helper()
	m, err := NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestApplyTwiceChangesNothing(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	carrierLink(t)
	m := newManager(t)
	defer m.Close()
	d := pair(t, "docomo")
	// The floor an earlier version left (metric 0xff000000, which does not
	// fit netlink's int on 32-bit routers) is replaced, not kept beside.
	sh(t, "ip", "route", "add", "unreachable", "default", "proto", "211", "metric", "4278190080", "table", "6001")

	r, err := m.Apply(d)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	if len(r.Changes) == 0 {
		t.Fatal("first apply made no changes")
	}
	t.Logf("first apply: %d changes", len(r.Changes))
	r, err = m.Apply(d)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if len(r.Changes) != 0 {
		t.Errorf("second apply changed the kernel: %q", r.Changes)
	}

	rules := sh(t, "ip", "rule", "show")
	if !strings.Contains(rules, "6001:\tfrom all fwmark 0x6001 lookup 6001 proto 211") {
		t.Errorf("ip rule lacks the pin rule:\n%s", rules)
	}
	table := sh(t, "ip", "route", "show", "table", "6001")
	for _, want := range []string{"default via 100.64.9.1 dev up0 proto 211", "unreachable default proto 211 metric 2130706432"} {
		if !strings.Contains(table, want) {
			t.Errorf("table 6001 lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "4278190080") {
		t.Errorf("table 6001 keeps the old floor:\n%s", table)
	}
	if got := sh(t, "ip", "-6", "route", "show", "table", "6001"); !strings.Contains(got, "unreachable default") {
		t.Errorf("ipv6 table 6001 lacks the unreachable floor:\n%s", got)
	}
}

func TestHandshakeAndStatus(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	carrierLink(t)
	m := newManager(t)
	defer m.Close()
	if _, err := m.Apply(pair(t, "docomo")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m.Kick(nil)
		st := m.Status()
		if !st[0].LastHandshake.IsZero() && !st[1].LastHandshake.IsZero() {
			if st[0].Impl == "" || st[1].Endpoint == "" {
				t.Fatalf("status incomplete: %+v", st)
			}
			if !strings.HasPrefix(st[1].Endpoint, "100.64.9.") {
				t.Errorf("hub sees the edge at %s, want an address of the carrier link", st[1].Endpoint)
			}
			out := sh(t, "wg", "show", "wgt-e-docomo")
			if !strings.Contains(out, "latest handshake") || !strings.Contains(out, "fwmark: 0x6001") {
				t.Errorf("wg show does not show the device as configured:\n%s", out)
			}
			// A kick re-creates the peer, whose counters start from 0; the
			// tunnel's counters in status go on from what it had.
			m.mu.Lock()
			err := m.replacePeer(m.last.Tunnels[0])
			m.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			after := m.Status()
			if after[0].TxBytes < st[0].TxBytes || after[0].RxBytes < st[0].RxBytes || st[0].TxBytes == 0 {
				t.Errorf("edge tunnel bytes rx/tx %d/%d before the peer was re-created, %d/%d after; want them kept",
					st[0].RxBytes, st[0].TxBytes, after[0].RxBytes, after[0].TxBytes)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no handshake within 5 s: %+v", m.Status())
}

func TestRemovedUplinkIsSwept(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	carrierLink(t)
	m := newManager(t)
	defer m.Close()
	two := pair(t, "docomo", "softbank")
	if _, err := m.Apply(two); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sh(t, "ip", "link", "show"), "wgt-e-softbank") {
		t.Fatal("softbank tunnel was not created")
	}
	one := two
	one.Tunnels = two.Tunnels[:2]
	one.Pins = two.Pins[:1]
	if _, err := m.Apply(one); err != nil {
		t.Fatal(err)
	}
	if links := sh(t, "ip", "link", "show"); strings.Contains(links, "softbank") {
		t.Errorf("softbank interfaces remain:\n%s", links)
	}
	if rules := sh(t, "ip", "rule", "show"); strings.Contains(rules, "6002") {
		t.Errorf("softbank rule remains:\n%s", rules)
	}
	if table := sh(t, "ip", "route", "show", "table", "6002"); table != "" {
		t.Errorf("softbank table remains:\n%s", table)
	}
	if !strings.Contains(sh(t, "ip", "rule", "show"), "lookup 6001") {
		t.Error("docomo rule was swept with softbank's")
	}
}

func TestStaleStateOfEarlierRunIsSwept(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	carrierLink(t)
	// What a killed run with another config could leave behind.
	sh(t, "ip", "rule", "add", "pref", "6050", "fwmark", "0x6050", "lookup", "6050", "proto", "211")
	sh(t, "ip", "route", "add", "unreachable", "default", "table", "6050", "proto", "211")
	sh(t, "ip", "route", "add", "198.51.100.0/24", "via", "100.64.9.1", "table", "6001", "proto", "211")
	// And what is not uplinkd's: must survive.
	sh(t, "ip", "rule", "add", "pref", "5000", "fwmark", "0x99", "lookup", "99")
	sh(t, "ip", "route", "add", "198.51.100.0/24", "via", "100.64.9.1", "table", "6001", "proto", "static", "metric", "5")

	m := newManager(t)
	defer m.Close()
	if _, err := m.Apply(pair(t, "docomo")); err != nil {
		t.Fatal(err)
	}
	rules := sh(t, "ip", "rule", "show")
	if strings.Contains(rules, "6050") {
		t.Errorf("stale rule remains:\n%s", rules)
	}
	if !strings.Contains(rules, "lookup 99") {
		t.Errorf("a rule that is not uplinkd's was removed:\n%s", rules)
	}
	if got := sh(t, "ip", "route", "show", "table", "6050"); got != "" {
		t.Errorf("stale table remains: %s", got)
	}
	table := sh(t, "ip", "route", "show", "table", "6001")
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "198.51.100.0/24") && strings.Contains(line, "proto 211") {
			t.Errorf("stale route remains: %s", line)
		}
	}
	if !strings.Contains(table, "proto static metric 5") {
		t.Errorf("a route that is not uplinkd's was removed:\n%s", table)
	}
}

func TestCarrierLinkDownKeepsTableClosed(t *testing.T) {
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
	// Another carrier owns the main table's default, as on a real edge.
	sh(t, "ip", "link", "add", "up2", "type", "veth", "peer", "name", "up3")
	sh(t, "ip", "addr", "add", "100.64.8.2/24", "dev", "up2")
	sh(t, "ip", "link", "set", "up2", "up")
	sh(t, "ip", "link", "set", "up3", "up")
	sh(t, "ip", "route", "add", "default", "via", "100.64.8.1")

	sh(t, "ip", "link", "set", "up0", "down")
	// Marked packets must hit the unreachable floor, not fall through to
	// the main table and leave by the other carrier.
	out, _ := exec.Command("ip", "route", "get", "198.51.100.7", "mark", "0x6001").CombinedOutput()
	if !strings.Contains(string(out), "No route to host") {
		t.Errorf("marked packet with its carrier down: %s", out)
	}
	sh(t, "ip", "link", "set", "up0", "up")
	r, err := m.Apply(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Changes, "\n"), "via 100.64.9.1") {
		t.Errorf("carrier default not re-added after link up; changes: %q", r.Changes)
	}
	if got := sh(t, "ip", "route", "get", "198.51.100.7", "mark", "0x6001"); !strings.Contains(got, "table 6001") {
		t.Errorf("marked packet not routed by the carrier table: %s", got)
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	carrierLink(t)
	m := newManager(t)
	if _, err := m.Apply(pair(t, "docomo")); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if links := sh(t, "ip", "link", "show"); strings.Contains(links, "wgt-") {
		t.Errorf("tunnels remain after Close:\n%s", links)
	}
	if rules := sh(t, "ip", "rule", "show"); strings.Contains(rules, "6001") {
		t.Errorf("rules remain after Close:\n%s", rules)
	}
	if got := sh(t, "ip", "route", "show", "table", "6001"); got != "" {
		t.Errorf("table remains after Close: %s", got)
	}
	if out, _ := exec.Command("ls", uapiDir).CombinedOutput(); strings.Contains(string(out), "wgt-e-docomo") {
		t.Errorf("uapi socket left behind: %s", out)
	}
}

// withSources adds the edge tunnels' source routes, as FromConfig does.
func withSources(d Desired) Desired {
	k := 0
	for _, t := range d.Tunnels {
		if t.FwMark == 0 {
			continue // a hub end
		}
		d.Sources = append(d.Sources, Source{Tunnel: t.Name, Table: config.SourceTableBase + 1 + k,
			Priority: config.SourcePriority, MainPriority: config.SourceMainPriority,
			Addrs: []netip.Prefix{netip.PrefixFrom(t.Addresses[0].Addr(), 32)}})
		k++
	}
	return d
}

// TestSourceRoutesKeepOwnTrafficInItsTunnel: what the edge sends from a
// tunnel's address leaves by that tunnel, whatever the default says; a
// second Apply changes nothing; a removed tunnel's rule and table go, and
// Close leaves none.
func TestSourceRoutesKeepOwnTrafficInItsTunnel(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	carrierLink(t)
	m := newManager(t)
	defer m.Close()
	two := withSources(pair(t, "docomo", "softbank"))
	if _, err := m.Apply(two); err != nil {
		t.Fatal(err)
	}
	// The default is docomo's alone (as when the kernel picked it for a
	// connection whose source it took from softbank).
	sh(t, "ip", "route", "add", "default", "dev", "wgt-e-docomo")
	for src, dev := range map[string]string{"198.18.200.3": "wgt-e-softbank", "198.18.200.1": "wgt-e-docomo", "100.64.9.2": "wgt-e-docomo"} {
		if got := sh(t, "ip", "route", "get", "203.0.113.9", "from", src); !strings.Contains(got, "dev "+dev+" ") {
			t.Errorf("from %s: %s want dev %s", src, strings.TrimSpace(got), dev)
		}
	}
	// Anything the main table routes more specifically than its default
	// (the LAN, a carrier's subnet) is not pulled into the tunnel.
	if got := sh(t, "ip", "route", "get", "100.64.9.7", "from", "198.18.200.3"); !strings.Contains(got, "dev up0 ") {
		t.Errorf("to the carrier's subnet from softbank's address: %s, want dev up0", strings.TrimSpace(got))
	}
	if r, err := m.Apply(two); err != nil || len(r.Changes) != 0 {
		t.Errorf("second apply: %v, changes %q", err, r.Changes)
	}
	rules := sh(t, "ip", "rule", "show")
	for _, want := range []string{"6089:\tfrom 198.18.200.1 lookup 6301 proto 211", "6089:\tfrom 198.18.200.3 lookup 6302 proto 211",
		"6088:\tfrom 198.18.200.3 lookup main suppress_prefixlength 0 proto 211"} {
		if !strings.Contains(rules, want) {
			t.Errorf("ip rule lacks %q:\n%s", want, rules)
		}
	}

	one := two
	one.Tunnels, one.Pins, one.Sources = two.Tunnels[:2], two.Pins[:1], two.Sources[:1]
	if _, err := m.Apply(one); err != nil {
		t.Fatal(err)
	}
	if rules := sh(t, "ip", "rule", "show"); strings.Contains(rules, "6302") || !strings.Contains(rules, "lookup 6301") {
		t.Errorf("after softbank's removal, rules:\n%s", rules)
	}
	if got := sh(t, "ip", "route", "show", "table", "6302"); got != "" {
		t.Errorf("softbank's source table remains: %s", got)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if rules := sh(t, "ip", "rule", "show"); strings.Contains(rules, "6089") || strings.Contains(rules, "6088") {
		t.Errorf("source rules remain after Close:\n%s", rules)
	}
	if got := sh(t, "ip", "route", "show", "table", "6301"); got != "" {
		t.Errorf("source table remains after Close: %s", got)
	}
}

// TestSourceRouteIPv6Stays: an edge tunnel with an IPv6 address has an
// IPv6 default in its source table, and a second Apply leaves it there
// and changes nothing (the kernel stores an IPv6 route added without a
// metric at 1024; read back, that must not pass for another route, which
// the sweep then deleted: the default came and went with every Apply).
func TestSourceRouteIPv6Stays(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	carrierLink(t)
	m := newManager(t)
	defer m.Close()
	d := withSources(pair(t, "docomo", "softbank"))
	d.Sources[0].Addrs = append(d.Sources[0].Addrs, netip.MustParsePrefix("2001:db8:200::1/128"))
	if _, err := m.Apply(d); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r, err := m.Apply(d)
		if err != nil || len(r.Changes) != 0 {
			t.Errorf("apply %d after the first: %v, changes %q", i+2, err, r.Changes)
		}
		if got := sh(t, "ip", "-6", "route", "show", "table", "6301"); !strings.Contains(got, "default dev wgt-e-docomo") {
			t.Errorf("after apply %d: table 6301's IPv6 routes %q, want the default through wgt-e-docomo", i+2, strings.TrimSpace(got))
		}
	}
}
