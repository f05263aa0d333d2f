package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goodEdge is a small valid edge file the bad cases are edited from. Line
// numbers matter: the cases below assert them.
const goodEdge = `role = "edge"
site = "home"
asn = 64512
router_id = "198.18.1.1"

[wireguard]
private_key_file = "/etc/uplinkd/private.key"

[[uplink]]
name = "docomo"
interface = "wwan0"
tunnel_address = ["198.18.100.0/31"]
endpoint = "hub.example.net:51821"
public_key = "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI="

[[uplink]]
name = "softbank"
interface = "wwan1"
tunnel_address = ["198.18.100.2/31", "2001:db8:100:2::/127"]
endpoint = "hub.example.net:51822"
public_key = "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI="

[bgp]
peer_asn = 64513
originate = ["198.18.10.0/24"]
`

// goodHub is the hub's counterpart.
const goodHub = `role = "hub"
site = "vps"
asn = 64513
router_id = "198.18.1.2"

[wireguard]
private_key_file = "/etc/uplinkd/private.key"

[hub]
public_interface = "eth0"

[[tunnel]]
name = "docomo"
listen_port = 51821
tunnel_address = ["198.18.100.1/31"]
public_key = "bcaJJukyMFo703fJpal5Exl32f/2TQSFiJNXcQFIRns="

[[tunnel]]
name = "softbank"
listen_port = 51822
tunnel_address = ["198.18.100.3/31"]
public_key = "bcaJJukyMFo703fJpal5Exl32f/2TQSFiJNXcQFIRns="

[bgp]
peer_asn = 64512
accept = ["198.18.10.0/24"]
`

func TestGoodTemplates(t *testing.T) {
	for _, src := range []string{goodEdge, goodHub} {
		if _, err := parse("t.toml", []byte(src), testKeys); err != nil {
			t.Fatalf("template does not parse: %v", err)
		}
	}
}

func TestBadFiles(t *testing.T) {
	tests := []struct {
		name string
		src  func(t *testing.T) string
		want []string
	}{
		{
			name: "syntax error",
			want: []string{
				`3:7: toml syntax: expected value but found '=' instead (see https://toml.io)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, `asn = 64512`, `asn = = 64512`) },
		},
		{
			name: "unknown top-level key",
			want: []string{
				`2:1: unknown key "sitee" at top level (did you mean "site"?)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, `site = "home"`, `sitee = "home"`) },
		},
		{
			name: "unknown key in uplink",
			want: []string{
				`17:1: unknown key "nmae" in [[uplink]] (did you mean "name"?)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, `name = "softbank"`, `nmae = "softbank"`) },
		},
		{
			name: "unknown key in wireguard",
			want: []string{
				`7:1: unknown key "mut" in [wireguard] (did you mean "mtu"?)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, "[wireguard]\n", "[wireguard]\nmut = 1400\n") },
		},
		{
			name: "unknown key without suggestion",
			want: []string{
				`7:1: unknown key "colour" in [wireguard] (known keys here: private_key_file, mtu, implementation)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, "[wireguard]\n", "[wireguard]\ncolour = 1\n") },
		},
		{
			name: "unknown table",
			want: []string{
				`6:1: unknown table [wirguard] (did you mean [wireguard]?)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, "[wireguard]", "[wirguard]") },
		},
		{
			name: "wrong kind integer as string",
			want: []string{
				`12:1: uplink[0].weight: expected an integer, got a string (write a whole number without quotes)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `interface = "wwan0"`, "interface = \"wwan0\"\nweight = \"3\"")
			},
		},
		{
			name: "wrong kind in list",
			want: []string{
				`12:38: uplink[0].tunnel_address[1]: expected a string, got an integer (put the value in double quotes)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `["198.18.100.0/31"]`, `["198.18.100.0/31", 42]`)
			},
		},
		{
			name: "missing role",
			want: []string{
				`1:1: missing required key "role" (add role = "edge" on the home router or role = "hub" on the VPS)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, "role = \"edge\"\n", "\n") },
		},
		{
			name: "bad role",
			want: []string{
				`1:1: role: "home" is not a role (use "edge" on the home router or "hub" on the VPS)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, `role = "edge"`, `role = "home"`) },
		},
		{
			name: "duplicate uplink names",
			want: []string{
				`17:1: uplink[1].name: "docomo" is also the name of uplink[0]; give each uplink its own name`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, `name = "softbank"`, `name = "docomo"`) },
		},
		{
			name: "duplicate tunnel interface",
			want: []string{
				`18:1: uplink[1].tunnel_interface: "wg-docomo" is also the tunnel interface of uplink[0] (its default); each tunnel needs its own interface name`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `name = "softbank"`, "name = \"softbank\"\ntunnel_interface = \"wg-docomo\"")
			},
		},
		{
			name: "tunnel interface equals underlay",
			want: []string{
				`18:1: uplink[1].tunnel_interface: "wwan0" is the underlay interface of uplink[0] (a tunnel needs a name of its own, e.g. "wg-softbank")`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `name = "softbank"`, "name = \"softbank\"\ntunnel_interface = \"wwan0\"")
			},
		},
		{
			name: "duplicate listen ports",
			want: []string{
				`20:1: tunnel[1].listen_port: 51821 is also the listen_port of tunnel[0]; each tunnel needs its own UDP port`,
			},
			src: func(t *testing.T) string { return edit(t, goodHub, `listen_port = 51822`, `listen_port = 51821`) },
		},
		{
			name: "overlapping tunnel addresses",
			want: []string{
				`19:19: uplink[1].tunnel_address[0]: 198.18.100.1/30 overlaps 198.18.100.0/31 of uplink[0].tunnel_address; each tunnel needs its own prefix`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `["198.18.100.2/31", `, `["198.18.100.1/30", `)
			},
		},
		{
			name: "fwmark clash with a default",
			want: []string{
				`12:1: uplink[0].fwmark: 0x6002 is also the fwmark of uplink[1] (its default); each uplink needs its own fwmark (leave fwmark out for the default)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `interface = "wwan0"`, "interface = \"wwan0\"\nfwmark = 0x6002")
			},
		},
		{
			name: "table clash",
			want: []string{
				`20:1: uplink[1].table: 100 is also the table of uplink[0]; each uplink needs its own routing table (leave table out for the default)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `interface = "wwan0"`, "interface = \"wwan0\"\ntable = 100",
					`interface = "wwan1"`, "interface = \"wwan1\"\ntable = 100")
			},
		},
		{
			name: "table 254",
			want: []string{
				`12:1: uplink[0].table: 254 is the kernel's main table (choose another number; leave it out for the default 6001)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `interface = "wwan0"`, "interface = \"wwan0\"\ntable = 254")
			},
		},
		{
			name: "missing key file",
			want: []string{
				`7:1: wireguard.private_key_file: /k/missing does not exist (create it: uplinkd genkey > /k/missing && chmod 600 /k/missing)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `"/etc/uplinkd/private.key"`, `"/k/missing"`)
			},
		},
		{
			name: "key file mode 0644",
			want: []string{
				`7:1: wireguard.private_key_file: /k/open is open to group or others (mode 0644); a private key must be private: chmod 600 /k/open`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, `"/etc/uplinkd/private.key"`, `"/k/open"`) },
		},
		{
			name: "key file garbage",
			want: []string{
				`7:1: wireguard.private_key_file: /k/garbage does not hold a WireGuard private key (it must contain one base64 key of 32 bytes; make one with uplinkd genkey > /k/garbage)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, `"/etc/uplinkd/private.key"`, `"/k/garbage"`) },
		},
		{
			name: "key file is a directory",
			want: []string{
				`7:1: wireguard.private_key_file: /k/dir is not a regular file (point it at the file written by uplinkd genkey)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, `"/etc/uplinkd/private.key"`, `"/k/dir"`) },
		},
		{
			name: "endpoint without port",
			want: []string{
				`13:1: uplink[0].endpoint: "hub.example.net" is not host:port (no port; write host:port, e.g. "hub.example.net:51821")`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `"hub.example.net:51821"`, `"hub.example.net"`)
			},
		},
		{
			name: "endpoint bad port",
			want: []string{
				`13:1: uplink[0].endpoint: port "70000" is not a port number (use 1 to 65535, the hub's listen_port for this tunnel)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `"hub.example.net:51821"`, `"hub.example.net:70000"`)
			},
		},
		{
			name: "endpoint unbracketed IPv6",
			want: []string{
				`13:1: uplink[0].endpoint: "2001:db8::1:51821" is not host:port (put an IPv6 address in brackets, e.g. "[2001:db8::1]:51821")`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `"hub.example.net:51821"`, `"2001:db8::1:51821"`)
			},
		},
		{
			name: "duplicate endpoint",
			want: []string{
				`20:1: uplink[1].endpoint: "hub.example.net:51821" is also the endpoint of uplink[0]; each uplink needs its own hub port, served by one [[tunnel]] on the hub`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `"hub.example.net:51822"`, `"hub.example.net:51821"`)
			},
		},
		{
			name: "weight 0",
			want: []string{
				`12:1: uplink[0].weight: must be > 0 (it is the ECMP weight; use 1 for an equal share)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `interface = "wwan0"`, "interface = \"wwan0\"\nweight = 0")
			},
		},
		{
			name: "weight negative",
			want: []string{
				`12:1: uplink[0].weight: must be > 0 (it is the ECMP weight; use 1 for an equal share)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `interface = "wwan0"`, "interface = \"wwan0\"\nweight = -2")
			},
		},
		{
			name: "weight too large",
			want: []string{
				`12:1: uplink[0].weight: 256 is too large (at most 255: the kernel's next-hop weights go to 256; scale all weights down together)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `interface = "wwan0"`, "interface = \"wwan0\"\nweight = 256")
			},
		},
		{
			name: "uplink in hub file",
			want: []string{
				`28:1: wrong role: [[uplink]] belongs in a role = "edge" file and this one has role = "hub" (the hub takes one [[tunnel]] per edge uplink instead)`,
			},
			src: func(t *testing.T) string {
				return goodHub + "\n[[uplink]]\nname = \"docomo\"\n"
			},
		},
		{
			name: "tunnel in edge file",
			want: []string{
				`27:1: wrong role: [[tunnel]] belongs in a role = "hub" file and this one has role = "edge" (the edge takes one [[uplink]] per carrier instead)`,
			},
			src: func(t *testing.T) string {
				return goodEdge + "\n[[tunnel]]\nname = \"docomo\"\n"
			},
		},
		{
			name: "hub table in edge file",
			want: []string{
				`27:1: wrong role: [hub] belongs in a role = "hub" file and this one has role = "edge" (remove it, or set role = "hub")`,
			},
			src: func(t *testing.T) string {
				return goodEdge + "\n[hub]\npublic_interface = \"eth0\"\n"
			},
		},
		{
			name: "bad IPv4 prefix",
			want: []string{
				`12:19: uplink[0].tunnel_address[0]: "198.18.300.0/31" is not an address with a prefix length (e.g. "198.18.100.0/31" or "2001:db8:100::/127")`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `["198.18.100.0/31"]`, `["198.18.300.0/31"]`)
			},
		},
		{
			name: "IPv6 prefix given twice",
			want: []string{
				`19:62: uplink[1].tunnel_address[2]: 2001:db8:100:3::/127 is a second IPv6 prefix; uplink[1].tunnel_address[1] already has one (a tunnel takes one IPv4 and at most one IPv6 prefix)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `"2001:db8:100:2::/127"]`, `"2001:db8:100:2::/127", "2001:db8:100:3::/127"]`)
			},
		},
		{
			name: "no IPv4 prefix",
			want: []string{
				`12:1: uplink[0].tunnel_address: needs one IPv4 prefix, /31 or /30 (e.g. ["198.18.100.0/31"]; BGP runs over it)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `["198.18.100.0/31"]`, `["2001:db8:100:1::/127"]`)
			},
		},
		{
			name: "tunnel prefix /24",
			want: []string{
				`12:19: uplink[0].tunnel_address[0]: 198.18.100.1/24 is a /24; an IPv4 tunnel prefix must be /31 or /30 (a point-to-point link, e.g. 198.18.100.0/31)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `["198.18.100.0/31"]`, `["198.18.100.1/24"]`)
			},
		},
		{
			name: "network address of /30",
			want: []string{
				`12:19: uplink[0].tunnel_address[0]: 198.18.100.0 is the network address of its prefix; use a host address, e.g. 198.18.100.1/30`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `["198.18.100.0/31"]`, `["198.18.100.0/30"]`)
			},
		},
		{
			name: "broadcast address of /30",
			want: []string{
				`12:19: uplink[0].tunnel_address[0]: 198.18.100.7 is the broadcast address of its prefix; use a host address, e.g. 198.18.100.6/30`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `["198.18.100.0/31"]`, `["198.18.100.7/30"]`)
			},
		},
		{
			name: "interface name too long",
			want: []string{
				`18:1: uplink[1].interface: "wwan-softbank-usb" is 17 bytes; Linux interface names are at most 15 (choose a shorter name)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `interface = "wwan1"`, `interface = "wwan-softbank-usb"`)
			},
		},
		{
			name: "default tunnel interface too long",
			want: []string{
				`17:1: uplink[1].name: the default tunnel interface "wg-softbank-backup" is longer than 15 bytes (shorten the name or set tunnel_interface)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `name = "softbank"`, `name = "softbank-backup"`)
			},
		},
		{
			name: "mtu 100",
			want: []string{
				`7:1: wireguard.mtu: 100 is out of range (use 1280 to 9000; IPv6 needs at least 1280, and 1380 fits inside mobile carriers' paths)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, "[wireguard]\n", "[wireguard]\nmtu = 100\n") },
		},
		{
			name: "router_id not IPv4",
			want: []string{
				`4:1: router_id: "2001:db8::1" is not an IPv4 address (BGP router IDs are IPv4 even on IPv6-only sites; e.g. "198.18.0.1")`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `router_id = "198.18.1.1"`, `router_id = "2001:db8::1"`)
			},
		},
		{
			name: "asn 0",
			want: []string{
				`3:1: asn: 0 is not a usable AS number (use 1 to 4294967294; private ones are 64512-65534 and 4200000000-4294967294)`,
			},
			src: func(t *testing.T) string { return edit(t, goodEdge, `asn = 64512`, `asn = 0`) },
		},
		{
			name: "error in second uplink at its own line",
			want: []string{
				`21:1: uplink[1].public_key: not a WireGuard public key (expected 44 characters of base64 for 32 bytes: the output of wg pubkey on the hub)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, "51822\"\npublic_key = \"VWjv", "51822\"\npublic_key = \"short\" # \"VWjv")
			},
		},
		{
			name: "missing key in second uplink at its header",
			want: []string{
				`16:1: uplink[1]: missing required key "endpoint" (add the hub's address and this tunnel's port, e.g. endpoint = "hub.example.net:51821")`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge, "endpoint = \"hub.example.net:51822\"\n", "")
			},
		},
		{
			name: "multiple errors sorted",
			want: []string{
				`2:1: site: "Home" is not a valid name (use 1 to 63 lowercase letters, digits and '-')`,
				`3:1: asn: 0 is not a usable AS number (use 1 to 4294967294; private ones are 64512-65534 and 4200000000-4294967294)`,
				`7:1: wireguard.mtu: 100 is out of range (use 1280 to 9000; IPv6 needs at least 1280, and 1380 fits inside mobile carriers' paths)`,
				`20:1: uplink[1].weight: must be > 0 (it is the ECMP weight; use 1 for an equal share)`,
			},
			src: func(t *testing.T) string {
				return edit(t, goodEdge,
					`interface = "wwan1"`, "interface = \"wwan1\"\nweight = 0",
					`asn = 64512`, `asn = 0`,
					`site = "home"`, `site = "Home"`,
					"[wireguard]\n", "[wireguard]\nmtu = 100\n")
			},
		},
		{
			name: "hub missing public interface",
			want: []string{
				`9:1: hub: missing required key "public_interface" (name the VPS's public interface under [hub], e.g. public_interface = "eth0")`,
			},
			src: func(t *testing.T) string { return edit(t, goodHub, "public_interface = \"eth0\"\n", "") },
		},
		{
			name: "edge without uplinks",
			want: []string{
				`1:1: role = "edge" needs at least one [[uplink]] table (one per tunnel; see configs/edge.toml)`,
				`1:1: bgp: missing required key "peer_asn" (add the other site's AS number under [bgp], e.g. peer_asn = 64513)`,
			},
			src: func(t *testing.T) string {
				return "role = \"edge\"\nsite = \"home\"\nasn = 64512\nrouter_id = \"198.18.1.1\"\n[wireguard]\nprivate_key_file = \"/etc/uplinkd/private.key\"\n"
			},
		},
		{
			name: "empty file",
			want: []string{
				`1:1: missing required key "role" (add role = "edge" on the home router or role = "hub" on the VPS)`,
				`1:1: missing required key "site" (name this site, e.g. site = "home")`,
				`1:1: missing required key "asn" (add this site's BGP AS number, e.g. a private one: asn = 64512)`,
				`1:1: missing required key "router_id" (add the BGP router ID, an IPv4 address, e.g. router_id = "198.18.0.1")`,
				`1:1: wireguard: missing required key "private_key_file" (add private_key_file = "/etc/uplinkd/private.key" under [wireguard])`,
				`1:1: bgp: missing required key "peer_asn" (add the other site's AS number under [bgp], e.g. peer_asn = 64513)`,
			},
			src: func(t *testing.T) string { return "" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(tt.src(t)), testKeys)
			got := positions(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSyntaxErrors pins positions where the TOML library's own column is
// off (errors found at a newline are counted from the next line).
func TestSyntaxErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a = 1\n= 2\n", "2:1: toml syntax: unexpected '=': key name appears blank (see https://toml.io)"},
		{"a = 1\n[x\n", `2:3: toml syntax: expected '.' or ']' to end table name, but got '\n' instead (see https://toml.io)`},
		{"site = \"a\"\nsite = \"b\"\n", "2:1: toml syntax: Key 'site' has already been defined. (see https://toml.io)"},
		{"x = 1\ny = 'abc\n", "2:9: toml syntax: strings cannot contain newlines (see https://toml.io)"},
		{"[[uplink]]\nname = \"a\"\n[uplink]\n", "3:2: toml syntax: Key 'uplink' has already been defined. (see https://toml.io)"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := parse("t.toml", []byte(tt.src), testKeys)
			if diff := cmp.Diff([]string{tt.want}, positions(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
