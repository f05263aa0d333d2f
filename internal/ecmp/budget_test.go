package ecmp

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// budgetMembers builds the members as lookupMembers does, each tunnel
// limited by its carrier's budget; index is the tunnel's link index.
func budgetMembers(links []Link, index map[string]int, limits map[string]Limit) map[string]Member {
	m := map[string]Member{}
	for _, l := range links {
		m[l.Name] = limited(Member{Uplink: l.Name, LinkIndex: index[l.Name], Weight: l.Weight, Preference: l.Preference}, l, limits[l.Carrier])
	}
	return m
}

func TestNextHopsBudget(t *testing.T) {
	def4 := netip.MustParsePrefix("0.0.0.0/0")
	only := netip.MustParsePrefix("198.51.100.0/24") // announced over docomo alone
	a := netip.MustParseAddr
	routes := map[netip.Prefix][]bgp.Path{
		def4: {{Peer: "docomo", NextHop: a("198.18.100.0")}, {Peer: "softbank", NextHop: a("198.18.100.2")}, {Peer: "rakuten", NextHop: a("198.18.100.4")}},
		only: {{Peer: "docomo", NextHop: a("198.18.100.0")}},
	}
	links := []Link{
		{Name: "docomo", Carrier: "docomo", Weight: 3, SoftWeight: 1, Preference: 100},
		{Name: "softbank", Carrier: "softbank", Weight: 2, SoftWeight: 1, Preference: 100},
		{Name: "rakuten", Carrier: "rakuten", Weight: 4, SoftWeight: 2, Preference: 100},
	}
	index := map[string]int{"docomo": 11, "softbank": 12, "rakuten": 13}
	docomo, softbank, rakuten := nh("198.18.100.0", 11, 3), nh("198.18.100.2", 12, 2), nh("198.18.100.4", 13, 4)
	tests := []struct {
		name   string
		limits map[string]Limit
		dead   []string
		want   map[netip.Prefix][]fib.WeightedNexthop
	}{
		{"no limits: the configured weights", nil, nil, map[netip.Prefix][]fib.WeightedNexthop{
			def4: {docomo, softbank, rakuten}, only: {docomo}}},
		{"docomo past its soft limit: weight 3 → 1", map[string]Limit{"docomo": SoftLimit}, nil, map[netip.Prefix][]fib.WeightedNexthop{
			def4: {nh("198.18.100.0", 11, 1), softbank, rakuten}, only: {nh("198.18.100.0", 11, 1)}}},
		{"docomo past its hard limit: out while another uplink is alive; a prefix only it reaches stays", map[string]Limit{"docomo": HardLimit}, nil,
			map[netip.Prefix][]fib.WeightedNexthop{def4: {softbank, rakuten}, only: {nh("198.18.100.0", 11, 1)}}},
		{"docomo hard, softbank dead: rakuten alone", map[string]Limit{"docomo": HardLimit}, []string{"softbank"},
			map[netip.Prefix][]fib.WeightedNexthop{def4: {rakuten}, only: {nh("198.18.100.0", 11, 1)}}},
		{"docomo hard and the last one alive: it carries", map[string]Limit{"docomo": HardLimit}, []string{"softbank", "rakuten"},
			map[netip.Prefix][]fib.WeightedNexthop{def4: {nh("198.18.100.0", 11, 1)}, only: {nh("198.18.100.0", 11, 1)}}},
		{"every carrier hard: they share at their soft weights", map[string]Limit{"docomo": HardLimit, "softbank": HardLimit, "rakuten": HardLimit}, nil,
			map[netip.Prefix][]fib.WeightedNexthop{def4: {nh("198.18.100.0", 11, 1), nh("198.18.100.2", 12, 1), nh("198.18.100.4", 13, 2)},
				only: {nh("198.18.100.0", 11, 1)}}},
		{"docomo hard, rakuten soft", map[string]Limit{"docomo": HardLimit, "rakuten": SoftLimit}, nil,
			map[netip.Prefix][]fib.WeightedNexthop{def4: {softbank, nh("198.18.100.4", 13, 2)}, only: {nh("198.18.100.0", 11, 1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dead := map[string]bool{}
			for _, d := range tt.dead {
				dead[d] = true
			}
			got := NextHops(routes, budgetMembers(links, index, tt.limits), func(u string) bool { return !dead[u] })
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestNextHopsBudgetHubs: a carrier past its hard limit gives way even to
// a backup hub's tunnels, over the other carriers.
func TestNextHopsBudgetHubs(t *testing.T) {
	def4 := netip.MustParsePrefix("0.0.0.0/0")
	routes, peers := twoHubRoutes()
	var links []Link
	index := map[string]int{}
	for name, m := range peers {
		carrier := name[:len(name)-len("@tokyo")]
		pref := 100
		if m.LinkIndex > 20 {
			pref = 50 // osaka is the backup
		}
		links = append(links, Link{Name: name, Carrier: carrier, Weight: m.Weight, SoftWeight: 1, Preference: pref})
		index[name] = m.LinkIndex
	}
	tests := []struct {
		name   string
		limits map[string]Limit
		dead   []string
		want   []fib.WeightedNexthop
	}{
		{"docomo hard: tokyo's other carriers", map[string]Limit{"docomo": HardLimit}, nil,
			[]fib.WeightedNexthop{nh("198.18.100.3", 12, 2), nh("198.18.100.5", 13, 1)}},
		{"docomo hard, tokyo's others dead: the backup hub's other carriers, not docomo", map[string]Limit{"docomo": HardLimit},
			[]string{"softbank@tokyo", "rakuten@tokyo"}, []fib.WeightedNexthop{nh("198.18.101.3", 22, 4), nh("198.18.101.5", 23, 2)}},
		{"docomo hard and nothing else alive: docomo@tokyo before docomo@osaka, by preference", map[string]Limit{"docomo": HardLimit},
			[]string{"softbank@tokyo", "rakuten@tokyo", "softbank@osaka", "rakuten@osaka"}, []fib.WeightedNexthop{nh("198.18.100.1", 11, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dead := map[string]bool{}
			for _, d := range tt.dead {
				dead[d] = true
			}
			got := NextHops(routes, budgetMembers(links, index, tt.limits), func(u string) bool { return !dead[u] })
			want := map[netip.Prefix][]fib.WeightedNexthop{def4: tt.want}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestPlanFromBudget: a tunnel knows its carrier and its weight past the
// soft limit, scaled by its hub's weight as the configured one is.
func TestPlanFromBudget(t *testing.T) {
	c := twoHubConfig()
	p := PlanFrom(c)
	got := map[string][2]any{}
	for _, l := range p.Links {
		got[l.Name] = [2]any{l.Carrier, l.SoftWeight}
	}
	want := map[string][2]any{"docomo@tokyo": {"docomo", 1}, "softbank@tokyo": {"softbank", 0},
		"docomo@osaka": {"docomo", 2}, "softbank@osaka": {"softbank", 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// twoHubConfig: docomo (with a budget) and softbank, to tokyo (weight 1)
// and osaka (weight 2).
func twoHubConfig() *config.Config {
	c := &config.Config{Role: config.RoleEdge,
		Uplinks: []config.Uplink{
			{Name: "docomo", Interface: "wwan0", Weight: 3, Budget: config.Budget{Bytes: 30e9, BillingDay: 1, SoftPercent: 80, HardPercent: 95, SoftWeight: 1}},
			{Name: "softbank", Interface: "wwan1", Weight: 2},
		},
		Hubs: []config.HubPeer{{Name: "tokyo", ASN: 64513, Preference: 100, Weight: 1}, {Name: "osaka", ASN: 64514, Preference: 100, Weight: 2}},
	}
	for i, h := range c.Hubs {
		for j, u := range c.Uplinks {
			c.EdgeTunnels = append(c.EdgeTunnels, config.EdgeTunnel{Name: u.Name + "@" + h.Name, Uplink: u.Name, Hub: h.Name,
				Interface: fmt.Sprintf("wg%d%d", i, j), Addresses: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(100 + i), byte(2 * j)}), 31)}})
		}
	}
	return c
}

// TestHubPrefersShortASPaths: at the hub, an edge's tunnel whose path
// came with a longer AS path (its carrier past its hard budget: the edge
// prepends) is a backup: out of the LAN's next hops while a shorter path
// is alive, the only one when none is.
func TestHubPrefersShortASPaths(t *testing.T) {
	lan := netip.MustParsePrefix("198.18.10.0/24")
	a := netip.MustParseAddr
	routes := map[netip.Prefix][]bgp.Path{lan: {
		{Peer: "docomo", NextHop: a("198.18.100.0"), ASPathLen: 4},
		{Peer: "softbank", NextHop: a("198.18.100.2"), ASPathLen: 1},
		{Peer: "rakuten", NextHop: a("198.18.100.4"), ASPathLen: 1},
	}}
	members := map[string]Member{
		"docomo": {Uplink: "docomo", LinkIndex: 11, Weight: 1}, "softbank": {Uplink: "softbank", LinkIndex: 12, Weight: 1},
		"rakuten": {Uplink: "rakuten", LinkIndex: 13, Weight: 1},
	}
	for _, tt := range []struct {
		dead []string
		want []fib.WeightedNexthop
	}{
		{nil, []fib.WeightedNexthop{nh("198.18.100.2", 12, 1), nh("198.18.100.4", 13, 1)}},
		{[]string{"softbank"}, []fib.WeightedNexthop{nh("198.18.100.4", 13, 1)}},
		{[]string{"softbank", "rakuten"}, []fib.WeightedNexthop{nh("198.18.100.0", 11, 1)}},
	} {
		alive := func(u string) bool { return !slices.Contains(tt.dead, u) }
		if diff := cmp.Diff(tt.want, NextHops(routes, members, alive)[lan], cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
			t.Errorf("dead %v: next hops (-want +got):\n%s", tt.dead, diff)
		}
	}
}

// TestExports: both sessions of every edge tunnel carry its weight as it
// stands (3, softbank's 2 lowered to its soft weight 1 by a soft limit,
// rakuten's 1); docomo's tunnels, past their hard limit, and rakuten's,
// out by its SLA, carry the prepend too; a degraded SLA lowers the weight
// alone; a hub's tunnel adds nothing; no limits: the weights alone.
func TestExports(t *testing.T) {
	a := netip.MustParseAddr
	links := []Link{
		{Name: "docomo@tokyo", Carrier: "docomo", Weight: 3, Peer4: a("198.18.100.1"), Peer6: a("2001:db8:100:1::1")},
		{Name: "docomo@osaka", Carrier: "docomo", Weight: 3, Peer4: a("198.18.101.1")},
		{Name: "softbank@tokyo", Carrier: "softbank", Weight: 2, SoftWeight: 1, Peer4: a("198.18.100.3")},
		{Name: "rakuten@tokyo", Carrier: "rakuten", Weight: 1, Peer4: a("198.18.100.5")},
		{Name: "rakuten@osaka", Carrier: "rakuten", Weight: 4, Peer4: a("198.18.101.5")},
		{Name: "home", Weight: 1, Peer4: a("198.18.102.1")}, // a hub's tunnel
	}
	limits := map[string]Limit{"docomo": HardLimit, "softbank": SoftLimit}
	sla := map[string]SLAVerdict{"rakuten@tokyo": {Weight: 0}, "rakuten@osaka": {Weight: 2}}
	got := exports(links, limits, sla)
	hard := bgp.Export{Weight: 3, Prepend: config.BudgetPrepend}
	want := map[netip.Addr]bgp.Export{a("198.18.100.1"): hard, a("2001:db8:100:1::1"): hard, a("198.18.101.1"): hard,
		a("198.18.100.3"): {Weight: 1}, a("198.18.100.5"): {Weight: 1, Prepend: config.BudgetPrepend},
		a("198.18.101.5"): {Weight: 2}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("exports (-want +got):\n%s", diff)
	}
	got = exports(links, nil, nil)
	if got[a("198.18.100.1")] != (bgp.Export{Weight: 3}) || got[a("198.18.100.3")] != (bgp.Export{Weight: 2}) || len(got) != 6 {
		t.Errorf("exports without limits: %v", got)
	}
}
