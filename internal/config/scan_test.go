package config

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScan checks paths, positions and kinds on the TOML the scanner must
// step over correctly: strings that look like headers or keys, multi-line
// arrays with comments, inline tables, dotted and quoted keys.
func TestScan(t *testing.T) {
	src := `# comment [[uplink]]
role = "edge" # trailing [x]
"quoted.key" = 'lit # not a comment'
a.b = 1_000
ml = """
[[uplink]]
fake = "x" \"""
"""
lit = '''
[wireguard]'''
when = 1979-05-27 07:32:00Z
f = 6.5e-1
h = 0xff
[[uplink]]
name = "x"
tunnel_address = [
  "198.18.100.0/31", # first
  # a comment line
  "2001:db8::/127",
]
inl = { x = 1, y = [2, 3], z = { w = true } }
[[ uplink ]]
name = "y"
[uplink.extra]
k = nan
[wireguard]
mtu = -1
`
	var got []string
	for _, e := range scan(src) {
		s := fmt.Sprintf("%d:%d %s %v", e.pos.line, e.pos.col, renderPath(e.segs), e.kind)
		for _, el := range e.elems {
			s += fmt.Sprintf(" [%d:%d %v]", el.pos.line, el.pos.col, el.kind)
		}
		got = append(got, s)
	}
	want := []string{
		"2:1 role a string",
		"3:1 quoted.key a string",
		"4:1 a.b an integer",
		"5:1 ml a string",
		"9:1 lit a string",
		"11:1 when a date-time",
		"12:1 f a float",
		"13:1 h an integer",
		"14:1 uplink[0] an array of tables",
		"15:1 uplink[0].name a string",
		"16:1 uplink[0].tunnel_address an array [17:3 a string] [19:3 a string]",
		"21:1 uplink[0].inl an inline table",
		"21:9 uplink[0].inl.x an integer",
		"21:16 uplink[0].inl.y an array [21:21 an integer] [21:24 an integer]",
		"21:28 uplink[0].inl.z an inline table",
		"21:34 uplink[0].inl.z.w a boolean",
		"22:1 uplink[1] an array of tables",
		"23:1 uplink[1].name a string",
		"24:1 uplink[1].extra a table",
		"25:1 uplink[1].extra.k a float",
		"26:1 wireguard a table",
		"27:1 wireguard.mtu an integer",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scan mismatch (-want +got):\n%s", diff)
	}
}

// TestSchemaKinds covers the ways a value can have the wrong shape, each
// reported once at the key and nowhere else.
func TestSchemaKinds(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{
			name: "inline wireguard table is fine",
			old:  "[wireguard]\nprivate_key_file = \"/etc/uplinkd/private.key\"\n",
			new:  "wireguard = { private_key_file = \"/etc/uplinkd/private.key\", mtu = 1400 }\n",
		},
		{
			name: "dotted keys are fine",
			old:  "[wireguard]\nprivate_key_file = \"/etc/uplinkd/private.key\"\n",
			new:  "wireguard.private_key_file = \"/etc/uplinkd/private.key\"\n",
		},
		{
			name: "misspelt key inside an inline table",
			old:  "[wireguard]\nprivate_key_file = \"/etc/uplinkd/private.key\"\n",
			new:  "wireguard = { private_key_file = \"/etc/uplinkd/private.key\", mtuu = 1400 }\n",
			want: []string{`6:62: unknown key "mtuu" in [wireguard] (did you mean "mtu"?)`},
		},
		{
			name: "float for an integer",
			old:  "asn = 64512",
			new:  "asn = 64512.0",
			want: []string{"3:1: asn: expected an integer, got a float (write a whole number without quotes)"},
		},
		{
			name: "bool for a string",
			old:  `site = "home"`,
			new:  `site = true`,
			want: []string{"2:1: site: expected a string, got a boolean (put the value in double quotes)"},
		},
		{
			name: "string for a list",
			old:  `tunnel_address = ["198.18.100.0/31"]`,
			new:  `tunnel_address = "198.18.100.0/31"`,
			want: []string{`12:1: uplink[0].tunnel_address: expected an array, got a string (write a list, e.g. tunnel_address = ["a", "b"])`},
		},
		{
			name: "table written as a value",
			old:  "[wireguard]\nprivate_key_file = \"/etc/uplinkd/private.key\"\n",
			new:  "wireguard = \"/etc/uplinkd/private.key\"\n",
			want: []string{"6:1: wireguard: expected a table, got a string (write it as a [wireguard] table)"},
		},
		{
			name: "single table written twice-bracketed",
			old:  "[wireguard]",
			new:  "[[wireguard]]",
			want: []string{"6:1: wireguard: expected a table, got an array of tables (write it as a [wireguard] table)"},
		},
		{
			name: "unknown sub-table of an uplink",
			old:  "hub.example.net:51821\"\npublic_key = \"VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI=\"\n",
			new:  "hub.example.net:51821\"\npublic_key = \"VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI=\"\n[uplink.bgp]\nhold = 3\n",
			want: []string{
				`15:1: unknown table [uplink.bgp] (known keys here: name, interface, gateway, weight, tunnel_interface, tunnel_address, endpoint, public_key, persistent_keepalive, liveness, fwmark, table, budget, billing_day, budget_soft_percent, budget_hard_percent, budget_soft_weight, sla)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(edit(t, goodEdge, tt.old, tt.new)), testKeys)
			if diff := cmp.Diff(tt.want, positions(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// An array written inline where [[uplink]] tables belong is refused at the
// key, and the uplinks are not checked further.
func TestArrayForTables(t *testing.T) {
	src := `role = "edge"
site = "home"
asn = 64512
router_id = "198.18.1.1"
uplink = [{ name = "docomo" }]
[wireguard]
private_key_file = "/etc/uplinkd/private.key"
[bgp]
peer_asn = 64513
`
	want := []string{"5:1: uplink: expected an array of tables, got an array (write each one as a [[uplink]] table)"}
	_, err := parse("t.toml", []byte(src), testKeys)
	if diff := cmp.Diff(want, positions(t, err)); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}

func TestHubFiles(t *testing.T) {
	tests := []struct {
		name  string
		pairs []string
		want  []string
	}{
		{
			name:  "duplicate tunnel names",
			pairs: []string{`name = "softbank"`, `name = "docomo"`},
			want:  []string{`19:1: tunnel[1].name: "docomo" is also the name of tunnel[0]; each edge uplink gets one [[tunnel]]`},
		},
		{
			name:  "tunnel interface is the public interface",
			pairs: []string{`name = "softbank"`, "name = \"softbank\"\ntunnel_interface = \"eth0\""},
			want:  []string{`20:1: tunnel[1].tunnel_interface: "eth0" is the hub's public_interface (a tunnel needs a name of its own)`},
		},
		{
			name:  "listen port 0",
			pairs: []string{`listen_port = 51821`, `listen_port = 0`},
			want:  []string{`14:1: tunnel[0].listen_port: 0 is not a port number (use 1 to 65535, e.g. 51821)`},
		},
		{
			name:  "overlap between tunnels",
			pairs: []string{`["198.18.100.3/31"]`, `["198.18.100.0/31"]`},
			want:  []string{`21:19: tunnel[1].tunnel_address[0]: 198.18.100.0/31 overlaps 198.18.100.1/31 of tunnel[0].tunnel_address; each tunnel needs its own prefix`},
		},
		{
			name:  "missing hub table",
			pairs: []string{"[hub]\npublic_interface = \"eth0\"\n", ""},
			want:  []string{`1:1: hub: missing required key "public_interface" (name the VPS's public interface under [hub], e.g. public_interface = "eth0")`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(edit(t, goodHub, tt.pairs...)), testKeys)
			if diff := cmp.Diff(tt.want, positions(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTooManyUplinks(t *testing.T) {
	src := goodEdge
	for i := 2; i < 9; i++ {
		src += fmt.Sprintf("\n[[uplink]]\nname = \"u%d\"\ninterface = \"eth%d\"\ntunnel_address = [\"198.18.100.%d/31\"]\nendpoint = \"hub.example.net:%d\"\npublic_key = \"VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI=\"\n",
			i, i, 2*i, 51821+i)
	}
	want := []string{"69:1: too many [[uplink]] tables: 9 (at most 8)"}
	_, err := parse("t.toml", []byte(src), testKeys)
	if diff := cmp.Diff(want, positions(t, err)); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}
