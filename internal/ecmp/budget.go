package ecmp

import (
	"net/netip"

	"github.com/uplinkd/uplinkd/internal/config"
)

// Limit is what a carrier's data budget allows its tunnels (internal/budget
// counts; the daemon passes the result on with Controller.SetLimits).
type Limit int

// The limits, by carrier.
const (
	Unlimited Limit = iota
	SoftLimit       // its tunnels' weight drops to their SoftWeight
	HardLimit       // its tunnels are a last resort: in only while nothing else is alive
)

func (l Limit) String() string {
	switch l {
	case SoftLimit:
		return "soft"
	case HardLimit:
		return "hard"
	}
	return ""
}

// limited applies a carrier's budget limit to one of its tunnels. Past
// the hard limit the soft one holds too: last resorts that share a prefix
// share it at their lowered weights.
func limited(m Member, l Link, lim Limit) Member {
	if lim >= SoftLimit && l.SoftWeight > 0 && l.SoftWeight < m.Weight {
		m.Weight = l.SoftWeight
	}
	m.LastResort = lim == HardLimit
	return m
}

// prepends is what the edge's BGP prepends to what it announces, by
// neighbor: config.BudgetPrepend copies of its AS on both sessions of
// every tunnel of a carrier past its hard limit, so that the hub too sends
// through them only while nothing else reaches the edge (its own limit
// steers only what the edge sends).
func prepends(links []Link, limits map[string]Limit) map[netip.Addr]int {
	out := map[netip.Addr]int{}
	for _, l := range links {
		if limits[l.Carrier] != HardLimit {
			continue
		}
		for _, a := range []netip.Addr{l.Peer4, l.Peer6} {
			if a.IsValid() {
				out[a] = config.BudgetPrepend
			}
		}
	}
	return out
}
