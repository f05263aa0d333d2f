package ecmp

import (
	"net/netip"
	"slices"

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
}

// NextHops computes each prefix's weighted next hops: one per path whose
// peer maps to a member that is alive, of the highest preference among
// those (backup hubs carry a prefix only while no better hub's tunnel
// does). A prefix with no live path is left out, so its route is withdrawn
// rather than kept pointing at dead tunnels.
func NextHops(routes map[netip.Prefix][]bgp.Path, peers map[string]Member, alive func(uplink string) bool) map[netip.Prefix][]fib.WeightedNexthop {
	out := map[netip.Prefix][]fib.WeightedNexthop{}
	for p, paths := range routes {
		var nhs []fib.WeightedNexthop
		best := 0
		for _, path := range paths {
			m, ok := peers[path.Peer]
			if !ok || m.LinkIndex == 0 || !alive(m.Uplink) || path.NextHop.Is6() != p.Addr().Is6() {
				continue
			}
			switch {
			case m.Preference < best:
				continue
			case m.Preference > best:
				nhs, best = nhs[:0], m.Preference
			}
			nhs = append(nhs, fib.WeightedNexthop{Gateway: path.NextHop, LinkIndex: m.LinkIndex, Weight: m.Weight})
		}
		if len(nhs) == 0 {
			continue
		}
		slices.SortFunc(nhs, func(a, b fib.WeightedNexthop) int { return a.LinkIndex - b.LinkIndex })
		out[p] = slices.CompactFunc(nhs, func(a, b fib.WeightedNexthop) bool { return a.LinkIndex == b.LinkIndex })
	}
	return out
}
