package ecmp

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/fib"
)

// RestartGrace is how long a restarted daemon keeps the routes it adopted
// from the run before while BGP has not brought them back: BGP graceful
// restart's idea (RFC 4724), on the daemon's own side. Where the tunnels
// outlive the daemon (kernel WireGuard), the home keeps its default
// through a restart instead of losing it until the sessions are up (the
// handshakes, BGP's first connect, BFD, the hold-down). An adopted next
// hop leaves the grace as soon as BGP carries its prefix through its
// tunnel again; whatever BGP never brings back goes when the grace ends.
const RestartGrace = 30 * time.Second

// grace is the restart grace's state: the adopted next hops still kept,
// by prefix.
type grace struct {
	until time.Time
	kept  map[netip.Prefix][]fib.WeightedNexthop
}

// newGrace starts a grace for the routes found at start.
func newGrace(adopted map[netip.Prefix][]fib.WeightedNexthop, now time.Time) grace {
	if len(adopted) == 0 {
		return grace{}
	}
	kept := maps.Clone(adopted)
	for p, nhs := range kept {
		kept[p] = slices.Clone(nhs)
	}
	return grace{until: now.Add(RestartGrace), kept: kept}
}

// apply adds to want, while the grace runs, the adopted next hops that BGP
// does not carry again yet. It keeps them per tunnel, as a restarting BGP
// speaker keeps each peer's stale routes until that peer has sent them
// again (RFC 4724), not per prefix: once the first session brings the
// default back through its tunnel, the other tunnels' adopted next hops
// stay beside it while their sessions re-form, so losing that one tunnel
// meanwhile (BFD flapping while everything restarts) is no gap in the
// default. A kept next hop is forgotten once BGP carries its prefix
// through its tunnel (BGP's next hop and weight replace it); one whose
// tunnel is not alive now (BFD down, the WireGuard session expired, the
// link gone) is left out of want while it is not. It reports how many next
// hops it added, and whether the grace just ended (now past it, or nothing
// left to keep).
func (g *grace) apply(want map[netip.Prefix][]fib.WeightedNexthop, now time.Time, alive func(linkIndex int) bool) (added int, ended bool) {
	if g.kept == nil {
		return 0, false
	}
	if !now.Before(g.until) {
		g.kept = nil
		return 0, true
	}
	for p, nhs := range g.kept {
		carried := want[p]
		nhs = slices.DeleteFunc(nhs, func(nh fib.WeightedNexthop) bool { return carries(carried, nh.LinkIndex) })
		if len(nhs) == 0 {
			delete(g.kept, p)
			continue
		}
		g.kept[p] = nhs
		merged := slices.Clone(carried)
		for _, nh := range nhs {
			if alive(nh.LinkIndex) {
				merged = append(merged, nh)
				added++
			}
		}
		if len(merged) > len(carried) {
			slices.SortFunc(merged, func(a, b fib.WeightedNexthop) int { return a.LinkIndex - b.LinkIndex })
			want[p] = merged
		}
	}
	if len(g.kept) == 0 {
		g.kept = nil
		return added, true
	}
	return added, false
}

// carries says whether nhs has a next hop through the link.
func carries(nhs []fib.WeightedNexthop, linkIndex int) bool {
	return slices.ContainsFunc(nhs, func(nh fib.WeightedNexthop) bool { return nh.LinkIndex == linkIndex })
}

// next is when the grace ends, zero when none runs.
func (g *grace) next() time.Time {
	if g.kept == nil {
		return time.Time{}
	}
	return g.until
}
