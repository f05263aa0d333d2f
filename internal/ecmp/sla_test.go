package ecmp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// TestNextHopsSLA: a tunnel that breaks its SLA leaves the default while a
// healthy one is alive ("out"), never when it is the last; "degrade" lowers
// its weight; a budget limit and an SLA verdict together: the harsher wins.
func TestNextHopsSLA(t *testing.T) {
	def4 := netip.MustParsePrefix("0.0.0.0/0")
	a := netip.MustParseAddr
	routes := map[netip.Prefix][]bgp.Path{
		def4: {{Peer: "docomo", NextHop: a("198.18.100.0")}, {Peer: "softbank", NextHop: a("198.18.100.2")}},
	}
	links := []Link{
		{Name: "docomo", Carrier: "docomo", Weight: 4, SoftWeight: 1, Preference: 100},
		{Name: "softbank", Carrier: "softbank", Weight: 4, SoftWeight: 1, Preference: 100},
	}
	index := map[string]int{"docomo": 11, "softbank": 12}
	docomo, softbank := nh("198.18.100.0", 11, 4), nh("198.18.100.2", 12, 4)
	tests := []struct {
		name   string
		sla    map[string]SLAVerdict
		limits map[string]Limit
		dead   []string
		want   []fib.WeightedNexthop
	}{
		{"all meet it", nil, nil, nil, []fib.WeightedNexthop{docomo, softbank}},
		{"docomo out", map[string]SLAVerdict{"docomo": {Reason: "rtt 480 ms > 300 ms for 5 s"}}, nil, nil, []fib.WeightedNexthop{softbank}},
		{"docomo out but the last alive: it carries", map[string]SLAVerdict{"docomo": {}}, nil, []string{"softbank"},
			[]fib.WeightedNexthop{docomo}},
		{"both out: both carry, as last resorts", map[string]SLAVerdict{"docomo": {}, "softbank": {}}, nil, nil,
			[]fib.WeightedNexthop{docomo, softbank}},
		{"docomo degraded to 1", map[string]SLAVerdict{"docomo": {Weight: 1}}, nil, nil,
			[]fib.WeightedNexthop{nh("198.18.100.0", 11, 1), softbank}},
		{"docomo degraded to 2 and past its budget's soft limit (1): 1", map[string]SLAVerdict{"docomo": {Weight: 2}},
			map[string]Limit{"docomo": SoftLimit}, nil, []fib.WeightedNexthop{nh("198.18.100.0", 11, 1), softbank}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			members := budgetMembers(links, index, tt.limits)
			for name, m := range members {
				v, degraded := tt.sla[name]
				members[name] = slaLimited(m, v, degraded)
			}
			dead := map[string]bool{}
			for _, d := range tt.dead {
				dead[d] = true
			}
			got := NextHops(routes, members, func(u string) bool { return !dead[u] })
			if diff := cmp.Diff(tt.want, got[def4], cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	if n := slaNote(SLAVerdict{Reason: "loss 23 % > 10 % for 12 s"}); !strings.Contains(n, "loss 23 %") || !strings.Contains(n, "last resort") {
		t.Errorf("note %q", n)
	}
}
