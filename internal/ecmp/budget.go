package ecmp

import (
	"net/netip"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
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

// exports is what the edge's BGP adds to what it announces, by neighbor
// (both sessions of every edge tunnel): the tunnel's ECMP weight as it
// stands (its carrier's, lowered by a soft budget limit or a degraded SLA)
// as link bandwidth, so that the hub splits downloads the same way; and
// config.BudgetPrepend copies of its AS for a tunnel that should carry
// only what nothing else can (past its carrier's hard limit, or out by its
// SLA), so that the hub too sends through it only then (the edge's own
// steering covers only what it sends). Hub tunnels add nothing.
func exports(links []Link, limits map[string]Limit, sla map[string]SLAVerdict) map[netip.Addr]bgp.Export {
	out := map[netip.Addr]bgp.Export{}
	for _, l := range links {
		if l.Carrier == "" {
			continue // a hub's tunnel
		}
		v, degraded := sla[l.Name]
		m := slaLimited(limited(Member{Weight: l.Weight}, l, limits[l.Carrier]), v, degraded)
		x := bgp.Export{Weight: m.Weight}
		if m.LastResort {
			x.Prepend = config.BudgetPrepend
		}
		for _, a := range []netip.Addr{l.Peer4, l.Peer6} {
			if a.IsValid() {
				out[a] = x
			}
		}
	}
	return out
}
