package bgp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func validConfig() Config {
	return Config{
		ASN: 65001, RouterID: addr("10.255.0.2"), ListenPort: -1,
		Peers: []Peer{
			{Name: "docomo", Address: addr("10.0.1.1"), Local: addr("10.0.1.2"), ASN: 65000},
			{Name: "docomo-v6", Address: addr("fd10::1"), Local: addr("fd10::2"), ASN: 65000},
		},
		Accept: []netip.Prefix{v4Default, v6Default},
	}
}

func TestDefaults(t *testing.T) {
	c := Config{Peers: []Peer{{Address: netip.AddrFrom16(addr("10.0.1.1").As16())}}}.withDefaults()
	got := struct {
		Hold, Keepalive, Retry time.Duration
		Port                   int
		Listen                 []netip.Addr
		PeerPort               int
		PeerAddr               netip.Addr
	}{c.HoldTime, c.Keepalive, c.ConnectRetry, c.ListenPort, c.ListenAddrs, c.Peers[0].Port, c.Peers[0].Address}
	want := got
	want.Hold, want.Keepalive, want.Retry = 9*time.Second, 3*time.Second, time.Second
	want.Port, want.PeerPort = 179, 179
	want.Listen = []netip.Addr{addr("0.0.0.0"), addr("::")}
	want.PeerAddr = addr("10.0.1.1") // v4-mapped form unmapped
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"hold under 3 s", func(c *Config) { c.HoldTime, c.Keepalive = 2*time.Second, time.Second }, "hold time 2s is under 3s"},
		{"hold not whole", func(c *Config) { c.HoldTime = 4500 * time.Millisecond }, "hold time 4.5s must be whole seconds"},
		{"keepalive not under hold", func(c *Config) { c.HoldTime, c.Keepalive = 3*time.Second, 3*time.Second }, "keepalive 3s must be at least 1 s and under the hold time 3s"},
		{"connect retry fraction", func(c *Config) { c.ConnectRetry = 500 * time.Millisecond }, "connect retry 500ms must be whole seconds"},
		{"asn zero", func(c *Config) { c.ASN = 0 }, "asn must not be 0"},
		{"router id v6", func(c *Config) { c.RouterID = addr("::1") }, "router id ::1 must be an IPv4 address"},
		{"listen port", func(c *Config) { c.ListenPort = 70000 }, "listen port 70000 out of range"},
		{"duplicate name", func(c *Config) { c.Peers[1].Name = "docomo" }, `peer "docomo": duplicate name`},
		{"empty name", func(c *Config) { c.Peers[0].Name = "" }, `peer "": name must not be empty`},
		{"duplicate address", func(c *Config) { c.Peers[1].Address, c.Peers[1].Local = c.Peers[0].Address, netip.Addr{} }, `address 10.0.1.1 already used by peer "docomo"`},
		{"mixed families", func(c *Config) { c.Peers[0].Local = addr("fd10::2") }, "are of different families"},
		{"peer asn", func(c *Config) { c.Peers[0].ASN = 0 }, `peer "docomo": asn must not be 0`},
		{"missing address", func(c *Config) { c.Peers[0].Address = netip.Addr{} }, `peer "docomo": address is missing`},
		{"unmasked accept", func(c *Config) { c.Accept = []netip.Prefix{netip.MustParsePrefix("10.0.0.1/8")} }, "accept prefix 10.0.0.1/8 is not a valid masked prefix"},
		{"invalid originate", func(c *Config) { c.Originate = []netip.Prefix{{}} }, "originate prefix invalid Prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Peers = append([]Peer(nil), c.Peers...)
			tt.change(&c)
			err := c.withDefaults().validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("validate: %v, want no error", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("validate: no error, want %q", tt.want)
			case !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want):
				t.Fatalf("validate: %v, want ErrConfig with %q", err, tt.want)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	in := []netip.Prefix{lan, v6Default, v4Default, lan, extra}
	want := []netip.Prefix{v4Default, extra, lan, v6Default}
	if diff := cmp.Diff(want, canonical(in), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("canonical (-want +got):\n%s", diff)
	}
}
