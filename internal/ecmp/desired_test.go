package ecmp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
)

func TestNextHops(t *testing.T) {
	def4 := netip.MustParsePrefix("0.0.0.0/0")
	def6 := netip.MustParsePrefix("::/0")
	a := netip.MustParseAddr
	routes := map[netip.Prefix][]bgp.Path{
		def4:                                     {{Peer: "docomo", NextHop: a("198.18.100.0")}, {Peer: "softbank", NextHop: a("198.18.100.2")}, {Peer: "rakuten", NextHop: a("198.18.100.4")}},
		def6:                                     {{Peer: "docomo-v6", NextHop: a("2001:db8:100:1::")}, {Peer: "softbank-v6", NextHop: a("2001:db8:100:2::")}},
		netip.MustParsePrefix("198.51.100.0/24"): {{Peer: "softbank", NextHop: a("198.18.100.2")}},
		netip.MustParsePrefix("203.0.113.0/24"):  {{Peer: "stranger", NextHop: a("198.18.100.8")}},
	}
	peers := map[string]Member{
		"docomo": {Uplink: "docomo", LinkIndex: 11, Weight: 2}, "docomo-v6": {Uplink: "docomo", LinkIndex: 11, Weight: 2},
		"softbank": {Uplink: "softbank", LinkIndex: 12, Weight: 1}, "softbank-v6": {Uplink: "softbank", LinkIndex: 12, Weight: 1},
		"rakuten": {Uplink: "rakuten", LinkIndex: 13, Weight: 1},
	}
	tests := []struct {
		name string
		dead map[string]bool
		want map[netip.Prefix][]fib.WeightedNexthop
	}{
		{"all alive", nil, map[netip.Prefix][]fib.WeightedNexthop{
			def4:                                     {nh("198.18.100.0", 11, 2), nh("198.18.100.2", 12, 1), nh("198.18.100.4", 13, 1)},
			def6:                                     {nh("2001:db8:100:1::", 11, 2), nh("2001:db8:100:2::", 12, 1)},
			netip.MustParsePrefix("198.51.100.0/24"): {nh("198.18.100.2", 12, 1)},
		}},
		{"softbank dead: its next hops go, a prefix only it had is withdrawn", map[string]bool{"softbank": true},
			map[netip.Prefix][]fib.WeightedNexthop{
				def4: {nh("198.18.100.0", 11, 2), nh("198.18.100.4", 13, 1)},
				def6: {nh("2001:db8:100:1::", 11, 2)},
			}},
		{"all dead", map[string]bool{"docomo": true, "softbank": true, "rakuten": true}, map[netip.Prefix][]fib.WeightedNexthop{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextHops(routes, peers, func(u string) bool { return !tt.dead[u] })
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func nh(gw string, link, weight int) fib.WeightedNexthop {
	return fib.WeightedNexthop{Gateway: netip.MustParseAddr(gw), LinkIndex: link, Weight: weight}
}

// TestNextHopsFarWeights: a hub's tunnels take the edge's weights from the
// paths' link bandwidth (3:2:1 in Mbit/s); a path without it keeps the
// member's weight; an edge's member ignores a hub's link bandwidth.
func TestNextHopsFarWeights(t *testing.T) {
	lan := netip.MustParsePrefix("198.18.20.0/24")
	def := netip.MustParsePrefix("0.0.0.0/0")
	a := netip.MustParseAddr
	mbit := func(n float32) float32 { return n * 125000 }
	routes := map[netip.Prefix][]bgp.Path{
		lan: {{Peer: "docomo", NextHop: a("198.18.100.1"), Bandwidth: mbit(3)}, {Peer: "softbank", NextHop: a("198.18.100.3"), Bandwidth: mbit(2)},
			{Peer: "rakuten", NextHop: a("198.18.100.5")}},
		def: {{Peer: "up", NextHop: a("198.18.100.7"), Bandwidth: mbit(9)}},
	}
	peers := map[string]Member{
		"docomo":   {Uplink: "docomo", LinkIndex: 11, Weight: 1, FarWeights: true},
		"softbank": {Uplink: "softbank", LinkIndex: 12, Weight: 1, FarWeights: true},
		"rakuten":  {Uplink: "rakuten", LinkIndex: 13, Weight: 1, FarWeights: true},
		"up":       {Uplink: "up", LinkIndex: 14, Weight: 2}, // an edge's tunnel
	}
	got := NextHops(routes, peers, func(string) bool { return true })
	want := map[netip.Prefix][]fib.WeightedNexthop{
		lan: {nh("198.18.100.1", 11, 3), nh("198.18.100.3", 12, 2), nh("198.18.100.5", 13, 1)},
		def: {nh("198.18.100.7", 14, 2)},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("NextHops (-want +got):\n%s", diff)
	}
}
