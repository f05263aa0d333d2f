package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// twoHubs is an edge with two VPSs: tokyo preferred, osaka its backup.
// Line numbers matter: the bad cases assert them.
const twoHubs = `role = "edge"
site = "home"
asn = 64512
router_id = "198.18.1.1"
[wireguard]
private_key_file = "/etc/uplinkd/private.key"
[[uplink]]
name = "docomo"
interface = "wwan0"
weight = 3
[[uplink]]
name = "softbank"
interface = "wwan1"
[[hub]]
name = "tokyo"
endpoint = "203.0.113.9"
public_key = "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI="
asn = 64513
[[hub.tunnel]]
uplink = "docomo"
port = 51821
tunnel_address = ["198.18.100.0/31", "2001:db8:100:1::/127"]
[[hub.tunnel]]
uplink = "softbank"
port = 51822
tunnel_address = ["198.18.100.2/31"]
tunnel_interface = "wg-sb-tokyo"
[[hub]]
name = "osaka"
endpoint = "hub2.example.net"
public_key = "bcaJJukyMFo703fJpal5Exl32f/2TQSFiJNXcQFIRns="
preference = 50
weight = 2
[[hub.tunnel]]
uplink = "docomo"
port = 51821
tunnel_address = ["198.18.101.0/31"]
tunnel_interface = "wg-dcm-osaka"
[bgp]
peer_asn = 64514
originate = ["198.18.10.0/24"]
[breakout]
gateway = "198.18.5.1"
interface = "eth1"
[ecmp]
last_resort = "breakout"
`

func TestTwoHubs(t *testing.T) {
	got, err := parse("e.toml", []byte(twoHubs), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	k1 := mustKey(t, "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI=")
	k2 := mustKey(t, "bcaJJukyMFo703fJpal5Exl32f/2TQSFiJNXcQFIRns=")
	wantHubs := []HubPeer{
		{Name: "tokyo", Host: "203.0.113.9", PublicKey: k1, ASN: 64513, Preference: 100, Weight: 1},
		{Name: "osaka", Host: "hub2.example.net", PublicKey: k2, ASN: 64514, Preference: 50, Weight: 2},
	}
	ka := 25 * time.Second
	wantTunnels := []EdgeTunnel{
		{Name: "docomo@tokyo", Uplink: "docomo", Hub: "tokyo", Interface: "wg-docomo-tokyo",
			Addresses: pfx("198.18.100.0/31", "2001:db8:100:1::/127"), Endpoint: "203.0.113.9:51821",
			PublicKey: k1, Keepalive: ka, FwMark: 0x6001},
		{Name: "softbank@tokyo", Uplink: "softbank", Hub: "tokyo", Interface: "wg-sb-tokyo",
			Addresses: pfx("198.18.100.2/31"), Endpoint: "203.0.113.9:51822", PublicKey: k1, Keepalive: ka, FwMark: 0x6002},
		{Name: "docomo@osaka", Uplink: "docomo", Hub: "osaka", Interface: "wg-dcm-osaka",
			Addresses: pfx("198.18.101.0/31"), Endpoint: "hub2.example.net:51821", PublicKey: k2, Keepalive: ka, FwMark: 0x6001},
	}
	opts := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
	if diff := cmp.Diff(wantHubs, got.Hubs, opts); diff != "" {
		t.Errorf("hubs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantTunnels, got.EdgeTunnels, opts); diff != "" {
		t.Errorf("tunnels (-want +got):\n%s", diff)
	}
	if got.ECMP.LastResort != LastResortBreakout {
		t.Errorf("last resort %q, want %q", got.ECMP.LastResort, LastResortBreakout)
	}
}

// twoEdges is a hub serving two edge sites.
const twoEdges = `role = "hub"
site = "vps"
asn = 64513
router_id = "198.18.1.2"
[wireguard]
private_key_file = "/etc/uplinkd/private.key"
[hub]
public_interface = "eth0"
[[edge]]
name = "home"
asn = 64512
accept = ["198.18.10.0/24", "2001:db8:10::/64"]
[[edge]]
name = "office"
asn = 64520
accept = ["198.18.20.0/24"]
[[tunnel]]
name = "docomo"
edge = "home"
listen_port = 51821
tunnel_address = ["198.18.100.1/31"]
public_key = "bcaJJukyMFo703fJpal5Exl32f/2TQSFiJNXcQFIRns="
[[tunnel]]
name = "docomo"
edge = "office"
tunnel_interface = "wgh-o-docomo"
listen_port = 51831
tunnel_address = ["198.18.102.1/31"]
public_key = "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI="
`

func TestTwoEdges(t *testing.T) {
	got, err := parse("h.toml", []byte(twoEdges), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	want := []EdgeSite{
		{Name: "home", ASN: 64512, Accept: pfx("198.18.10.0/24", "2001:db8:10::/64")},
		{Name: "office", ASN: 64520, Accept: pfx("198.18.20.0/24")},
	}
	opts := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
	if diff := cmp.Diff(want, got.Sites, opts); diff != "" {
		t.Errorf("sites (-want +got):\n%s", diff)
	}
	var links []string
	for _, tu := range got.Tunnels {
		links = append(links, tu.Link()+" "+tu.Interface)
	}
	if diff := cmp.Diff([]string{"docomo@home wgh-docomo", "docomo@office wgh-o-docomo"}, links); diff != "" {
		t.Errorf("tunnels (-want +got):\n%s", diff)
	}
	// The hub's masquerade and status use the union.
	if diff := cmp.Diff(pfx("198.18.10.0/24", "2001:db8:10::/64", "198.18.20.0/24"), got.BGP.Accept, opts); diff != "" {
		t.Errorf("accept union (-want +got):\n%s", diff)
	}
}

// TestBadHubs: every mistake in [[hub]], [[hub.tunnel]], [[edge]] and
// last_resort is refused at its position with what to do.
func TestBadHubs(t *testing.T) {
	tests := []struct {
		name      string
		base      string
		old, repl string
		want      []string
	}{
		{"duplicate hub name", twoHubs, `name = "osaka"`, `name = "tokyo"`, []string{
			"29:1: hub[1].name: \"tokyo\" is also the name of hub[0]; give each [[hub]] its own name"}},
		{"duplicate endpoint", twoHubs, `endpoint = "hub2.example.net"`, `endpoint = "203.0.113.9"`, []string{
			"30:1: hub[1].endpoint: \"203.0.113.9\" is also the endpoint of hub[0]; two [[hub]] tables for one VPS are one hub: merge their tunnels", "36:1: hub[1].tunnel[0].port: \"203.0.113.9:51821\" is also the endpoint of hub[0].tunnel[0]; each tunnel needs its own hub port, served by one [[tunnel]] on that hub"}},
		{"duplicate key", twoHubs, `public_key = "bcaJJukyMFo703fJpal5Exl32f/2TQSFiJNXcQFIRns="`, `public_key = "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI="`, []string{
			"31:1: hub[1].public_key: \"VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI=\" is also the public key of hub[0]; each VPS has its own private key: copy the right hub's wg pubkey"}},
		{"preference too high", twoHubs, `preference = 50`, `preference = 5000`, []string{
			"32:1: hub[1].preference: 5000 is out of range (1 to 1000; the highest preference with a live tunnel carries traffic, equal ones share it, default 100)"}},
		{"preference zero", twoHubs, `preference = 50`, `preference = 0`, []string{
			"32:1: hub[1].preference: 0 is out of range (1 to 1000; the highest preference with a live tunnel carries traffic, equal ones share it, default 100)"}},
		{"weight too high", twoHubs, `weight = 2`, `weight = 17`, []string{
			"33:1: hub[1].weight: 17 is out of range (1 to 16; it multiplies each carrier's weight)"}},
		{"weight product", twoHubs, `weight = 3`, `weight = 200`, []string{
			"35:1: hub[1].tunnel[0].uplink: the uplink's weight 200 times the hub's weight 2 is 400, over the kernel's 255 (lower either)"}},
		{"endpoint with port", twoHubs, `endpoint = "hub2.example.net"`, `endpoint = "hub2.example.net:51821"`, []string{
			"30:1: hub[1].endpoint: \"hub2.example.net:51821\" has a port; a [[hub]]'s endpoint is the host alone, e.g. \"hub2.example.net\" (each [[hub.tunnel]] has its port)"}},
		{"unknown uplink", twoHubs, "uplink = \"docomo\"\nport = 51821\ntunnel_address = [\"198.18.101.0/31\"]", "uplink = \"kddi\"\nport = 51821\ntunnel_address = [\"198.18.101.0/31\"]", []string{
			"35:1: hub[1].tunnel[0].uplink: \"kddi\" is not the name of an [[uplink]] (known: \"docomo\", \"softbank\")"}},
		{"uplink twice to one hub", twoHubs, "uplink = \"softbank\"", "uplink = \"docomo\"", []string{
			"24:1: hub[0].tunnel[1].uplink: docomo@tokyo is also the uplink of hub[0].tunnel[0]; a hub takes one tunnel per uplink"}},
		{"overlapping tunnel prefixes across hubs", twoHubs, `tunnel_address = ["198.18.101.0/31"]`, `tunnel_address = ["198.18.100.0/31"]`, []string{
			"37:19: hub[1].tunnel[0].tunnel_address[0]: 198.18.100.0/31 overlaps 198.18.100.0/31 of hub[0].tunnel[0].tunnel_address; each tunnel needs its own prefix"}},
		{"one-hub keys beside [[hub]]", twoHubs, "interface = \"wwan1\"\n", "interface = \"wwan1\"\nendpoint = \"hub.example.net:51821\"\n", []string{
			"14:1: uplink[1].endpoint: with [[hub]] tables the tunnels are written per hub: move endpoint into a [[hub.tunnel]] with uplink = the uplink's name (the endpoint's host goes to the [[hub]]'s endpoint, its port to the tunnel's port, public_key to the [[hub]])"}},
		{"no asn anywhere", twoHubs, "peer_asn = 64514\n", "", []string{
			"28:1: hub[1]: no AS for this hub: add asn = the hub's AS here, or peer_asn under [bgp] for every hub"}},
		{"hub without tunnels", twoHubs, "[[hub.tunnel]]\nuplink = \"docomo\"\nport = 51821\ntunnel_address = [\"198.18.101.0/31\"]\ntunnel_interface = \"wg-dcm-osaka\"\n", "", []string{
			"28:1: hub[1]: [[hub]] \"osaka\" has no tunnels (add one [[hub.tunnel]] per uplink, with uplink, port and tunnel_address)"}},
		{"last resort unknown", twoHubs, `last_resort = "breakout"`, `last_resort = "kddi"`, []string{
			"46:1: ecmp.last_resort: \"kddi\" is neither \"off\", \"breakout\" nor the name of an [[uplink]] (known: \"docomo\", \"softbank\")"}},
		{"last resort breakout without breakout", twoHubs, "[breakout]\ngateway = \"198.18.5.1\"\ninterface = \"eth1\"\n", "", []string{
			"43:1: ecmp.last_resort: \"breakout\" needs [breakout] with its gateway (the home 5G router), or name an [[uplink]] instead"}},
		{"[[hub]] on a hub", twoEdges, "[hub]\npublic_interface = \"eth0\"\n", "[[hub]]\nname = \"x\"\n", []string{
			"7:1: hub: missing required key \"public_interface\" (name the VPS's public interface under [hub], e.g. public_interface = \"eth0\")", "7:1: wrong role: [[hub]] belongs in a role = \"edge\" file and this one has role = \"hub\" (a hub names its public interface in one [hub] table)"}},
		{"overlapping edge prefixes", twoEdges, `accept = ["198.18.20.0/24"]`, `accept = ["198.18.10.128/25"]`, []string{
			"16:11: edge[1].accept[0]: 198.18.10.128/25 overlaps 198.18.10.0/24 of edge[0]; each site's sessions may announce only its own LAN, so sites' prefixes must not overlap"}},
		{"duplicate edge name", twoEdges, `name = "office"`, `name = "home"`, []string{
			"14:1: edge[1].name: \"home\" is also the name of edge[0]; give each [[edge]] its own name", "25:1: tunnel[1].edge: \"office\" is not the name of an [[edge]]"}},
		{"tunnel without edge", twoEdges, "edge = \"office\"\n", "", []string{
			"23:1: tunnel[1]: with [[edge]] tables each [[tunnel]] names its edge site, e.g. edge = \"home\""}},
		{"tunnel with unknown edge", twoEdges, "edge = \"office\"\n", "edge = \"shop\"\n", []string{
			"25:1: tunnel[1].edge: \"shop\" is not the name of an [[edge]]"}},
		{"peer_asn beside [[edge]]", twoEdges, "[hub]\n", "[bgp]\npeer_asn = 64512\naccept = [\"198.18.10.0/24\"]\n[hub]\n", []string{
			"8:1: bgp.peer_asn: with [[edge]] tables each site has its own asn: move peer_asn into the [[edge]] tables", "9:1: bgp.accept: with [[edge]] tables each site has its own accept list: move these prefixes into the [[edge]] they belong to"}},
		{"interface clash between edges", twoEdges, "tunnel_interface = \"wgh-o-docomo\"\n", "", []string{
			"23:1: tunnel[1].tunnel_interface: \"wgh-docomo\" is also the tunnel interface of tunnel[0] (its default); each tunnel needs its own interface name"}},
		{"last resort on a hub", twoEdges, "[hub]\n", "[ecmp]\nlast_resort = \"breakout\"\n[hub]\n", []string{
			"8:1: ecmp.last_resort: only an edge has a last resort (remove it from the hub's file)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := edit(t, tt.base, tt.old, tt.repl)
			_, err := parse("f.toml", []byte(src), testKeys)
			got := positions(t, err)
			if len(got) == 0 {
				t.Fatalf("accepted; want an error")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s\ngot: %#v", diff, got)
			}
		})
	}
}

// TestMultiExamples: the example files for several hubs and several edge
// sites parse, and say what they mean.
func TestMultiExamples(t *testing.T) {
	key := writeKey(t, testKey, 0o600)
	edge, err := Parse("edge-two-hubs.toml", example(t, "edge-two-hubs.toml", key))
	if err != nil {
		t.Fatal(err)
	}
	if len(edge.Hubs) != 2 || len(edge.EdgeTunnels) != 6 || edge.ECMP.LastResort != LastResortBreakout {
		t.Errorf("edge-two-hubs: %d hubs, %d tunnels, last resort %q; want 2, 6, breakout", len(edge.Hubs), len(edge.EdgeTunnels), edge.ECMP.LastResort)
	}
	hub, err := Parse("hub-two-edges.toml", example(t, "hub-two-edges.toml", key))
	if err != nil {
		t.Fatal(err)
	}
	if len(hub.Sites) != 2 || hub.Tunnels[2].Link() != "docomo@office" {
		t.Errorf("hub-two-edges: sites %+v, third tunnel %q", hub.Sites, hub.Tunnels[2].Link())
	}
}

// TestBadPublish: a published port that collides with what the hub
// listens on or another service, a target outside the LAN, an inverted
// range are refused at their position.
func TestBadPublish(t *testing.T) {
	const pub = `
[[publish]]
name = "web"
protocol = "tcp"
port = 8443
to = "198.18.10.2:443"
`
	tests := []struct {
		name, old, repl string
		want            []string
	}{
		{"good", "", "", nil},
		{"wireguard port", "protocol = \"tcp\"\nport = 8443", "protocol = \"udp\"\nport = 51821", []string{
			"34:1: publish[0].port: udp 51821 collides with tunnel[0].listen_port (WireGuard) 51821 (choose a port nothing else on the hub listens on)"}},
		{"bgp port", "port = 8443\nto = \"198.18.10.2:443\"", "port = 170\nport_end = 180\nto = \"198.18.10.2\"", []string{
			"34:1: publish[0].port: tcp 170-180 collides with BGP ([bgp] port) 179 (choose a port nothing else on the hub listens on)"}},
		{"metrics port", "port = 8443", "port = 9474", []string{
			"34:1: publish[0].port: tcp 9474 collides with api.metrics 9474 (choose a port nothing else on the hub listens on)"}},
		{"inverted range", "port = 8443", "port = 8443\nport_end = 8000", []string{
			"35:1: publish[0].port_end: 8000 is below port 8443 (the range is port..port_end, inclusive)"}},
		{"outside the LAN", `to = "198.18.10.2:443"`, `to = "203.0.113.50:443"`, []string{
			"35:1: publish[0].to: 203.0.113.50 is outside the LAN prefixes (198.18.10.0/24 2001:db8:10::/64 198.18.20.0/24): a published service must be at home, behind the tunnels"}},
		{"range to one port", "port = 8443", "port = 8443\nport_end = 8445", []string{
			"36:1: publish[0].to: a port range (8443-8445) goes to the same ports at home: write to without a port, e.g. \"198.18.10.2\""}},
		{"v6 in to", `to = "198.18.10.2:443"`, `to = "[2001:db8:10::2]:443"`, []string{
			"35:1: publish[0].to: 2001:db8:10::2 is not an IPv4 (to) address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := twoEdges + pub
			if tt.old != "" {
				src = twoEdges + edit(t, pub, tt.old, tt.repl)
			}
			c, err := parse("h.toml", []byte(src), testKeys)
			if diff := cmp.Diff(tt.want, positions(t, err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tt.want == nil && (len(c.Publish) != 1 || c.Publish[0].To != netip.MustParseAddrPort("198.18.10.2:443")) {
				t.Errorf("publish: %+v", c.Publish)
			}
		})
	}
	// Two services on one port.
	_, err := parse("h.toml", []byte(twoEdges+pub+strings.Replace(pub, `"web"`, `"web2"`, 1)), testKeys)
	if diff := cmp.Diff([]string{"40:1: publish[1].port: tcp 8443 collides with publish[0] 8443 (choose a port nothing else on the hub listens on)"}, positions(t, err)); diff != "" {
		t.Errorf("two on one port (-want +got):\n%s", diff)
	}
}
