package ecmp

import (
	"net/netip"
	"slices"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// Member is one tunnel as the FIB sees it: a BGP peer reached through an
// interface with an ECMP weight.
type Member struct {
	Uplink     string // uplink (edge) or tunnel (hub) name: the liveness key
	LinkIndex  int
	Weight     int
	Preference int // its hub's: only the best preference alive carries a prefix
	// LastResort: its carrier is past its hard data budget, so it carries
	// a prefix only while no other member that reaches it is alive,
	// whatever their preferences.
	LastResort bool
	// FarWeights (a hub's tunnel): a path's link bandwidth, the edge's
	// weight for the tunnel, multiplies Weight.
	FarWeights bool
	// DualStack: its tunnel carries IPv6 as well as IPv4, so in resilient
	// mode its next hops can be one device-only member shared by both
	// families' groups (see Controller.kernelForm).
	DualStack bool
}

// weight is the member's next-hop weight for a path: its own, times the
// edge's weight the path carries if it takes far weights.
func (m Member) weight(p bgp.Path) int {
	w := m.Weight
	if far := bgp.WeightOf(p.Bandwidth); m.FarWeights && far > 0 {
		w = min(w*far, config.MaxNexthopWeight)
	}
	return w
}

// rank orders the paths of a prefix: through a last resort below all
// others, then by the member's preference, then the shorter AS path first
// (BGP's best path; a far side past its data budget prepends). Only the
// best rank alive carries the prefix.
func (m Member) rank(p bgp.Path) [3]int {
	first := 1
	if m.LastResort {
		first = 0
	}
	return [3]int{first, m.Preference, -p.ASPathLen}
}

func compareRank(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

// NextHops computes each prefix's weighted next hops: one per path whose
// peer maps to a member that is alive, of the best rank among those:
// backup hubs carry a prefix only while no better hub's tunnel does, and
// a last resort (a carrier past its hard budget) only while nothing else
// does. A prefix with no live path is left out, so its route is withdrawn
// rather than kept pointing at dead tunnels.
func NextHops(routes map[netip.Prefix][]bgp.Path, peers map[string]Member, alive func(uplink string) bool) map[netip.Prefix][]fib.WeightedNexthop {
	out := map[netip.Prefix][]fib.WeightedNexthop{}
	for p, paths := range routes {
		var nhs []fib.WeightedNexthop
		var best [3]int
		for _, path := range paths {
			m, ok := peers[path.Peer]
			if !ok || m.LinkIndex == 0 || !alive(m.Uplink) || path.NextHop.Is6() != p.Addr().Is6() {
				continue
			}
			switch c := compareRank(m.rank(path), best); {
			case len(nhs) > 0 && c < 0:
				continue
			case len(nhs) == 0 || c > 0:
				nhs, best = nhs[:0], m.rank(path)
			}
			nhs = append(nhs, fib.WeightedNexthop{Gateway: path.NextHop, LinkIndex: m.LinkIndex, Weight: m.weight(path)})
		}
		if len(nhs) == 0 {
			continue
		}
		slices.SortFunc(nhs, func(a, b fib.WeightedNexthop) int { return a.LinkIndex - b.LinkIndex })
		out[p] = slices.CompactFunc(nhs, func(a, b fib.WeightedNexthop) bool { return a.LinkIndex == b.LinkIndex })
	}
	return out
}
