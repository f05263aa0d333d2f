package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// writeKey writes a key file into a fresh directory and returns its path.
func writeKey(t *testing.T, data string, mode fs.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "private.key")
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode passes through the umask
		t.Fatal(err)
	}
	return path
}

// example reads a file from configs/ with its key path replaced.
func example(t *testing.T, name, keyPath string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	const want = `private_key_file = "/etc/uplinkd/private.key"`
	if strings.Count(string(data), want) != 1 {
		t.Fatalf("%s: no single %s line to substitute", name, want)
	}
	return []byte(strings.Replace(string(data), want, `private_key_file = "`+keyPath+`"`, 1))
}

func mustKey(t *testing.T, s string) [32]byte {
	t.Helper()
	k, err := wgtypes.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func TestExamples(t *testing.T) {
	key := writeKey(t, testKey+"\n", 0o600)
	hubKey := mustKey(t, "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI=")
	edgeKey := mustKey(t, "bcaJJukyMFo703fJpal5Exl32f/2TQSFiJNXcQFIRns=")
	wg := WireGuard{PrivateKeyFile: key, PrivateKey: mustKey(t, testKey), MTU: 1380, Impl: ImplAuto}
	api := API{Socket: "/run/uplinkd/uplinkd.sock", Metrics: "127.0.0.1:9474"}
	live := Liveness{BFD: true, Mode: LivenessFast, IdleInterval: 2 * time.Second, Interval: 100 * time.Millisecond, Multiplier: 3, HoldDown: 3 * time.Second}
	ecmp := ECMP{Table: 254, Resilient: "auto", HashPolicy: 1, OnExit: "flush", FailoverPriority: 1}
	lan := pfx("198.18.10.0/24", "2001:db8:10::/64")
	defaults := pfx("0.0.0.0/0", "::/0")
	tests := []struct {
		file string
		want *Config
	}{
		{
			file: "edge.toml",
			want: &Config{
				File: "edge.toml", Role: RoleEdge, Site: "home", ASN: 64512,
				RouterID: netip.MustParseAddr("198.18.1.1"), StateDir: "/var/lib/uplinkd", LogLevel: "info", MemoryLimitMB: 256,
				WireGuard: wg, API: api, Liveness: live, ECMP: ecmp,
				BGP: BGP{PeerASN: 64513, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second, Port: 179,
					Originate: lan, Accept: defaults, MaxPrefixes: 100, MaxPrefixRestart: 30 * time.Second, TTLSecurity: true},
				Breakout: Breakout{Gateway: netip.MustParseAddr("198.18.5.1"), Interface: "eth1", Table: 6100, RulePriority: 6100,
					MinBits4: 8, MinBits6: 16, MaxPrefixes: 2000000, MaxChurn: 50, MaxGrowth: 100, MaxCoverage: 10, MaxTotalCoverage: 20,
					MaxEntries: 2_000_000, ReadBack: 30 * time.Second, Probe: true, ProbeEvery: time.Second,
					DownAfter: 3, UpAfter: 2, FetchTimeout: 30 * time.Second, MaxFeedBytes: 32 << 20,
					Sources: []BreakoutSource{
						{Name: "aws-ec2-tokyo", Type: "aws", URLs: []string{"https://ip-ranges.amazonaws.com/ip-ranges.json"},
							Services: []string{"EC2", "S3"}, Regions: []string{"ap-northeast-1"}, Refresh: 24 * time.Hour,
							Header: RouteHeader{ASN: 16509, ASNName: "AMAZON-02", Category: "internet", Name: "AMAZON"}},
						{Name: "netflix", Type: "asn", URLs: []string{"https://example.net/routeviews-prefix2as.txt"},
							ASNs: []uint32{2906, 40027, 55095}, Refresh: 24 * time.Hour,
							Header: RouteHeader{ASN: 2906, ASNName: "AS-SSI", Category: "streaming", Name: "NETFLIX"}},
						{Name: "office", Type: "static", Prefixes: pfx("198.51.100.0/24"), Refresh: 24 * time.Hour},
					}},
				Uplinks: []Uplink{
					{Liveness: LivenessFast, Name: "docomo", Interface: "wwan0", Weight: 3, Keepalive: 25 * time.Second, FwMark: 0x6001, Table: 6001, Priority: 6001,
						Budget: Budget{Bytes: 30e9, BillingDay: 25, SoftPercent: 80, HardPercent: 95, SoftWeight: 1}},
					{Liveness: LivenessFast, Name: "softbank", Interface: "wwan1", Weight: 2, Keepalive: 25 * time.Second, FwMark: 0x6002, Table: 6002, Priority: 6002},
					{Liveness: LivenessFast, Name: "rakuten", Interface: "usb0", Weight: 1, Keepalive: 25 * time.Second, FwMark: 0x6003, Table: 6003, Priority: 6003},
				},
				// The one-hub form: one implicit hub, tunnels keyed by uplink.
				Hubs: []HubPeer{{Name: DefaultHub, ASN: 64513, Preference: 100, Weight: 1}},
				EdgeTunnels: []EdgeTunnel{
					{Name: "docomo", Uplink: "docomo", Hub: DefaultHub, Interface: "wg-docomo",
						Addresses: pfx("198.18.100.0/31", "2001:db8:100:1::/127"), Endpoint: "hub.example.net:51821",
						PublicKey: hubKey, Keepalive: 25 * time.Second, FwMark: 0x6001},
					{Name: "softbank", Uplink: "softbank", Hub: DefaultHub, Interface: "wg-softbank",
						Addresses: pfx("198.18.100.2/31", "2001:db8:100:2::/127"), Endpoint: "hub.example.net:51822",
						PublicKey: hubKey, Keepalive: 25 * time.Second, FwMark: 0x6002},
					{Name: "rakuten", Uplink: "rakuten", Hub: DefaultHub, Interface: "wg-rakuten",
						Addresses: pfx("198.18.100.4/31", "2001:db8:100:3::/127"), Endpoint: "hub.example.net:51823",
						PublicKey: hubKey, Keepalive: 25 * time.Second, FwMark: 0x6003},
				},
			},
		},
		{
			file: "hub.toml",
			want: &Config{
				File: "hub.toml", Role: RoleHub, Site: "vps", ASN: 64513,
				RouterID: netip.MustParseAddr("198.18.1.2"), StateDir: "/var/lib/uplinkd", LogLevel: "info", MemoryLimitMB: 256,
				WireGuard: wg, API: api, Liveness: live, ECMP: ecmp,
				BGP: BGP{PeerASN: 64512, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second, Port: 179,
					Originate: defaults, Accept: lan, MaxPrefixes: 100, MaxPrefixRestart: 30 * time.Second, TTLSecurity: true},
				Hub:   Hub{PublicInterface: "eth0"},
				Sites: []EdgeSite{{ASN: 64512, Accept: lan}},
				Tunnels: []Tunnel{
					{Name: "docomo", Interface: "wgh-docomo", ListenPort: 51821, Addresses: pfx("198.18.100.1/31", "2001:db8:100:1::1/127"), PublicKey: edgeKey, Liveness: LivenessFast},
					{Name: "softbank", Interface: "wgh-softbank", ListenPort: 51822, Addresses: pfx("198.18.100.3/31", "2001:db8:100:2::1/127"), PublicKey: edgeKey, Liveness: LivenessFast},
					{Name: "rakuten", Interface: "wgh-rakuten", ListenPort: 51823, Addresses: pfx("198.18.100.5/31", "2001:db8:100:3::1/127"), PublicKey: edgeKey, Liveness: LivenessFast},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Parse(tt.file, example(t, tt.file, key))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
				t.Errorf("Config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDefaults checks every default against a file that sets only what is
// required, and that settings which replace a default are taken.
func TestDefaults(t *testing.T) {
	const minimal = `role = "edge"
site = "s"
asn = 4200000000
router_id = "198.18.1.1"
[wireguard]
private_key_file = "/etc/uplinkd/private.key"
[[uplink]]
name = "a"
interface = "eth1"
tunnel_address = ["198.18.100.1/30"]
endpoint = "[2001:db8::1]:51821"
public_key = "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI="
[[uplink]]
name = "b"
interface = "eth2"
gateway = "100.64.0.1"
weight = 255
tunnel_interface = "tun-b"
tunnel_address = ["2001:db8:100::1/64", "198.18.100.4/31"]
endpoint = "198.51.100.7:1"
public_key = "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI="
persistent_keepalive = 0
fwmark = 0x10
table = 2147483647
[bgp]
peer_asn = 64513
`
	got, err := parse("m.toml", []byte(minimal), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	hubKey := mustKey(t, "VWjvBKKGFa3bBdVJ9K0yw8hmyPw6dE/WaR2oLyZmllI=")
	want := &Config{
		File: "m.toml", Role: RoleEdge, Site: "s", ASN: 4200000000,
		RouterID: netip.MustParseAddr("198.18.1.1"), StateDir: "/var/lib/uplinkd", LogLevel: "info", MemoryLimitMB: 256,
		WireGuard: WireGuard{PrivateKeyFile: "/etc/uplinkd/private.key", PrivateKey: mustKey(t, testKey), MTU: 1380, Impl: ImplAuto},
		API:       API{Socket: "/run/uplinkd/uplinkd.sock", Metrics: "127.0.0.1:9474"},
		BGP: BGP{PeerASN: 64513, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second, Port: 179,
			Accept: pfx("0.0.0.0/0", "::/0"), MaxPrefixes: 100, MaxPrefixRestart: 30 * time.Second, TTLSecurity: true},
		Liveness: Liveness{BFD: true, Mode: LivenessFast, IdleInterval: 2 * time.Second, Interval: 100 * time.Millisecond, Multiplier: 3, HoldDown: 3 * time.Second},
		ECMP:     ECMP{Table: 254, Resilient: "auto", HashPolicy: 1, OnExit: "flush", FailoverPriority: 1},
		Uplinks: []Uplink{
			{Liveness: LivenessFast, Name: "a", Interface: "eth1", Weight: 1, Keepalive: 25 * time.Second,
				FwMark: FwMarkBase + 1, Table: TableBase + 1, Priority: RulePriority + 1},
			{Liveness: LivenessFast, Name: "b", Interface: "eth2", Gateway: netip.MustParseAddr("100.64.0.1"), Weight: 255,
				FwMark: 0x10, Table: 2147483647, Priority: RulePriority + 2},
		},
		Hubs: []HubPeer{{Name: DefaultHub, ASN: 64513, Preference: 100, Weight: 1}},
		EdgeTunnels: []EdgeTunnel{
			{Name: "a", Uplink: "a", Hub: DefaultHub, Interface: "wg-a", Addresses: pfx("198.18.100.1/30"),
				Endpoint: "[2001:db8::1]:51821", PublicKey: hubKey, Keepalive: 25 * time.Second, FwMark: FwMarkBase + 1},
			{Name: "b", Uplink: "b", Hub: DefaultHub, Interface: "tun-b", Addresses: pfx("2001:db8:100::1/64", "198.18.100.4/31"),
				Endpoint: "198.51.100.7:1", PublicKey: hubKey, FwMark: 0x10},
		},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("Config mismatch (-want +got):\n%s", diff)
	}
}

func TestSettingsReplaceDefaults(t *testing.T) {
	src := edit(t, goodHub, "[wireguard]\n", `state_dir = "/srv/uplinkd/"
log_level = "debug"
[api]
socket = "/run/u.sock"
group = "uplinkd"
[wireguard]
mtu = 1280
implementation = "userspace"
`)
	got, err := parse("h.toml", []byte(src), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	type settings struct {
		StateDir, LogLevel string
		API                API
		MTU                int
		Impl               Impl
	}
	want := settings{"/srv/uplinkd", "debug", API{"/run/u.sock", "uplinkd", "127.0.0.1:9474", false}, 1280, ImplUserspace}
	if diff := cmp.Diff(want, settings{got.StateDir, got.LogLevel, got.API, got.WireGuard.MTU, got.WireGuard.Impl}); diff != "" {
		t.Errorf("settings mismatch (-want +got):\n%s", diff)
	}
}

// TestKeyFileOnDisk goes through the real filesystem rather than the fake.
func TestKeyFileOnDisk(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		key  func(t *testing.T) string // returns the path to put in the file
		want string                    // message after "7:1: wireguard.private_key_file: "; empty: no error
	}{
		{"good", func(t *testing.T) string { return writeKey(t, testKey, 0o600) }, ""},
		{"read-only for owner", func(t *testing.T) string { return writeKey(t, testKey+"\n", 0o400) }, ""},
		{"missing", func(t *testing.T) string { return filepath.Join(dir, "nope.key") },
			"%[1]s does not exist (create it: uplinkd genkey > %[1]s && chmod 600 %[1]s)"},
		{"mode 0644", func(t *testing.T) string { return writeKey(t, testKey, 0o644) },
			"%[1]s is open to group or others (mode 0644); a private key must be private: chmod 600 %[1]s"},
		{"garbage", func(t *testing.T) string { return writeKey(t, "hello\n", 0o600) },
			"%[1]s does not hold a WireGuard private key (it must contain one base64 key of 32 bytes; make one with uplinkd genkey > %[1]s)"},
		{"two keys", func(t *testing.T) string { return writeKey(t, testKey+"\n"+testKey+"\n", 0o600) },
			"%[1]s does not hold a WireGuard private key (it must contain one base64 key of 32 bytes; make one with uplinkd genkey > %[1]s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.key(t)
			src := edit(t, goodEdge, "/etc/uplinkd/private.key", path)
			_, err := Parse("e.toml", []byte(src))
			var want []string
			if tt.want != "" {
				want = []string{"7:1: wireguard.private_key_file: " + fmt.Sprintf(tt.want, path)}
			}
			if diff := cmp.Diff(want, positions(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
			if err != nil && strings.Contains(err.Error(), testKey[:8]) {
				t.Errorf("error shows key material: %v", err)
			}
		})
	}
}

// A relative key path is taken from the config file's directory, not from
// wherever the daemon happens to start.
func TestRelativeKeyPath(t *testing.T) {
	key := writeKey(t, testKey, 0o600)
	conf := filepath.Join(filepath.Dir(key), "edge.toml")
	src := edit(t, goodEdge, "/etc/uplinkd/private.key", "private.key")
	if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	if c.WireGuard.PrivateKeyFile != key {
		t.Errorf("PrivateKeyFile = %q, want %q", c.WireGuard.PrivateKeyFile, key)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestErrorFormat(t *testing.T) {
	_, err := parse("/etc/uplinkd/edge.toml", []byte(edit(t, goodEdge, `asn = 64512`, `asn = 0`, `site = "home"`, `site = "Home"`)), testKeys)
	want := `/etc/uplinkd/edge.toml:2:1: site: "Home" is not a valid name (use 1 to 63 lowercase letters, digits and '-')
/etc/uplinkd/edge.toml:3:1: asn: 0 is not a usable AS number (use 1 to 4294967294; private ones are 64512-65534 and 4200000000-4294967294)`
	if err == nil {
		t.Fatal("no error")
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Error() mismatch (-want +got):\n%s", diff)
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 2 {
		t.Errorf("errors.As(*Error) = %v, want the first error", one)
	}
}

func TestSummary(t *testing.T) {
	key := writeKey(t, testKey, 0o600)
	c, err := Parse("edge.toml", example(t, "edge.toml", key))
	if err != nil {
		t.Fatal(err)
	}
	want := `edge.toml: role edge, site home, AS64512, router-id 198.18.1.1
wireguard: auto, mtu 1380, key ` + key + `
uplinks (3):
  NAME      UNDERLAY  WEIGHT  FWMARK  TABLE  BUDGET
  docomo    wwan0     3       0x6001  6001   30 GB from day 25, weight 1 at 80 %, last resort at 95 %
  softbank  wwan1     2       0x6002  6002   -
  rakuten   usb0      1       0x6003  6003   -
hubs (1):
  hub: AS64513, preference 100, weight 1
tunnels (3):
  NAME      UPLINK    HUB  TUNNEL       ENDPOINT               ADDRESSES
  docomo    docomo    hub  wg-docomo    hub.example.net:51821  198.18.100.0/31 2001:db8:100:1::/127
  softbank  softbank  hub  wg-softbank  hub.example.net:51822  198.18.100.2/31 2001:db8:100:2::/127
  rakuten   rakuten   hub  wg-rakuten   hub.example.net:51823  198.18.100.4/31 2001:db8:100:3::/127
breakout: via 198.18.5.1, table 6100, rule priority 6100, 3 sources: aws-ec2-tokyo (aws) netflix (asn) office (static)
`
	if diff := cmp.Diff(want, c.Summary()); diff != "" {
		t.Errorf("Summary mismatch (-want +got):\n%s", diff)
	}
	h, err := Parse("hub.toml", example(t, "hub.toml", key))
	if err != nil {
		t.Fatal(err)
	}
	wantHub := `hub.toml: role hub, site vps, AS64513, router-id 198.18.1.2
wireguard: auto, mtu 1380, key ` + key + `
public interface: eth0
tunnels (3):
  NAME      INTERFACE     PORT   ADDRESSES
  docomo    wgh-docomo    51821  198.18.100.1/31 2001:db8:100:1::1/127
  softbank  wgh-softbank  51822  198.18.100.3/31 2001:db8:100:2::1/127
  rakuten   wgh-rakuten   51823  198.18.100.5/31 2001:db8:100:3::1/127
`
	if diff := cmp.Diff(wantHub, h.Summary()); diff != "" {
		t.Errorf("Summary mismatch (-want +got):\n%s", diff)
	}
}

// TestMemoryLimit: 256 MiB by default, 1 GiB when the breakout set is
// announced over BGP, 0 turns the limit off; out of range is refused where
// it is written.
func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		name, src string
		want      int
		err       string
	}{
		{"default", goodEdge, DefaultMemoryLimitMB, ""},
		{"set", "memory_limit_mb = 512\n" + goodEdge, 512, ""},
		{"off", "memory_limit_mb = 0\n" + goodEdge, 0, ""},
		{"too small", "memory_limit_mb = 16\n" + goodEdge, 0, "1:1: memory_limit_mb: 16 is out of range (0 for no limit, or 64 to 1048576 MiB)"},
		{"announcing", goodEdge + "[breakout]\ngateway = \"198.18.5.1\"\n[[breakout.peer]]\naddress = \"198.18.5.9\"\nasn = 64999\n", DefaultMemoryLimitAnnounceMB, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse("e.toml", []byte(tt.src), testKeys)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.MemoryLimitMB != tt.want {
				t.Errorf("memory limit %d MiB, want %d", got.MemoryLimitMB, tt.want)
			}
		})
	}
}

// TestFailoverPriority: real-time priority 1 by default, 0 turns it off,
// any priority Linux has may be set.
func TestFailoverPriority(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      int
	}{
		{"default", goodEdge, DefaultFailoverPriority},
		{"off", goodEdge + "[ecmp]\nfailover_priority = 0\n", 0},
		{"set", goodEdge + "[ecmp]\nfailover_priority = 50\n", 50},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse("e.toml", []byte(tt.src), testKeys)
			if err != nil {
				t.Fatal(err)
			}
			if got.ECMP.FailoverPriority != tt.want {
				t.Errorf("failover priority %d, want %d", got.ECMP.FailoverPriority, tt.want)
			}
		})
	}
}
