package ecmp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// Two hubs, three carriers each: tokyo (preference 100) and osaka.
func twoHubRoutes() (map[netip.Prefix][]bgp.Path, map[string]Member) {
	a := netip.MustParseAddr
	def4 := netip.MustParsePrefix("0.0.0.0/0")
	routes := map[netip.Prefix][]bgp.Path{def4: {
		{Peer: "docomo@tokyo", NextHop: a("198.18.100.1")}, {Peer: "softbank@tokyo", NextHop: a("198.18.100.3")}, {Peer: "rakuten@tokyo", NextHop: a("198.18.100.5")},
		{Peer: "docomo@osaka", NextHop: a("198.18.101.1")}, {Peer: "softbank@osaka", NextHop: a("198.18.101.3")}, {Peer: "rakuten@osaka", NextHop: a("198.18.101.5")},
	}}
	peers := map[string]Member{
		"docomo@tokyo": {Uplink: "docomo@tokyo", LinkIndex: 11, Weight: 3, Preference: 100}, "softbank@tokyo": {Uplink: "softbank@tokyo", LinkIndex: 12, Weight: 2, Preference: 100},
		"rakuten@tokyo": {Uplink: "rakuten@tokyo", LinkIndex: 13, Weight: 1, Preference: 100},
		"docomo@osaka":  {Uplink: "docomo@osaka", LinkIndex: 21, Weight: 6, Preference: 100}, "softbank@osaka": {Uplink: "softbank@osaka", LinkIndex: 22, Weight: 4, Preference: 100},
		"rakuten@osaka": {Uplink: "rakuten@osaka", LinkIndex: 23, Weight: 2, Preference: 100},
	}
	return routes, peers
}

func TestNextHopsHubs(t *testing.T) {
	def4 := netip.MustParsePrefix("0.0.0.0/0")
	tokyo := []fib.WeightedNexthop{nh("198.18.100.1", 11, 3), nh("198.18.100.3", 12, 2), nh("198.18.100.5", 13, 1)}
	osaka := []fib.WeightedNexthop{nh("198.18.101.1", 21, 6), nh("198.18.101.3", 22, 4), nh("198.18.101.5", 23, 2)}
	tests := []struct {
		name      string
		osakaPref int
		dead      []string
		want      []fib.WeightedNexthop
	}{
		{"active-active: one next hop per carrier and hub", 100, nil, append(append([]fib.WeightedNexthop{}, tokyo...), osaka...)},
		{"primary/backup: only the primary's", 50, nil, tokyo},
		{"primary/backup, one primary tunnel left: still the primary", 50, []string{"docomo@tokyo", "softbank@tokyo"}, tokyo[2:]},
		{"primary/backup, primary dead: the backup", 50, []string{"docomo@tokyo", "softbank@tokyo", "rakuten@tokyo"}, osaka},
		{"backup preferred over primary by preference", 200, nil, osaka},
		{"active-active, one hub dead: the other's three", 100, []string{"docomo@osaka", "softbank@osaka", "rakuten@osaka"}, tokyo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes, peers := twoHubRoutes()
			for name, m := range peers {
				if m.LinkIndex > 20 {
					m.Preference = tt.osakaPref
					peers[name] = m
				}
			}
			dead := map[string]bool{}
			for _, d := range tt.dead {
				dead[d] = true
			}
			got := NextHops(routes, peers, func(u string) bool { return !dead[u] })
			want := map[netip.Prefix][]fib.WeightedNexthop{def4: tt.want}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestWithLastResort(t *testing.T) {
	def4, def6 := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	lan := netip.MustParsePrefix("198.18.10.0/24")
	hop4 := nh("198.18.5.1", 7, 1)
	hop6 := nh("2001:db8:5::1", 7, 1)
	tunnels := []fib.WeightedNexthop{nh("198.18.100.1", 11, 1)}
	tests := []struct {
		name     string
		want     map[netip.Prefix][]fib.WeightedNexthop
		accept   []netip.Prefix
		hops     map[bool]fib.WeightedNexthop
		wantUsed []netip.Prefix
		wantOut  map[netip.Prefix][]fib.WeightedNexthop
	}{
		{"a tunnel carries v4: nothing for v4; v6 has none: last resort", map[netip.Prefix][]fib.WeightedNexthop{def4: tunnels},
			[]netip.Prefix{def4, def6}, map[bool]fib.WeightedNexthop{true: hop4, false: hop6},
			[]netip.Prefix{def6}, map[netip.Prefix][]fib.WeightedNexthop{def4: tunnels, def6: {hop6}}},
		{"no tunnel: both defaults via the last resort", map[netip.Prefix][]fib.WeightedNexthop{},
			[]netip.Prefix{def4, def6}, map[bool]fib.WeightedNexthop{true: hop4, false: hop6},
			[]netip.Prefix{def4, def6}, map[netip.Prefix][]fib.WeightedNexthop{def4: {hop4}, def6: {hop6}}},
		{"no IPv6 gateway: v6 stays without a route", map[netip.Prefix][]fib.WeightedNexthop{},
			[]netip.Prefix{def4, def6}, map[bool]fib.WeightedNexthop{true: hop4},
			[]netip.Prefix{def4}, map[netip.Prefix][]fib.WeightedNexthop{def4: {hop4}}},
		{"a hub (accepting the LAN, not defaults) never gets one", map[netip.Prefix][]fib.WeightedNexthop{},
			[]netip.Prefix{lan}, map[bool]fib.WeightedNexthop{true: hop4},
			nil, map[netip.Prefix][]fib.WeightedNexthop{}},
		{"off", map[netip.Prefix][]fib.WeightedNexthop{}, []netip.Prefix{def4}, nil, nil, map[netip.Prefix][]fib.WeightedNexthop{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used := withLastResort(tt.want, tt.accept, tt.hops)
			eq := cmp.Comparer(func(x, y netip.Addr) bool { return x == y })
			pe := cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })
			if diff := cmp.Diff(tt.wantUsed, used, pe); diff != "" {
				t.Errorf("used (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantOut, tt.want, eq); diff != "" {
				t.Errorf("routes (-want +got)\n%s", diff)
			}
		})
	}
}
