package ecmp

import (
	"maps"
	"net/netip"
	"time"

	"github.com/uplinkd/uplinkd/internal/fib"
)

// RestartGrace is how long a restarted daemon keeps the routes it adopted
// from the run before while BGP has not brought them back: BGP graceful
// restart's idea (RFC 4724), on the daemon's own side. Where the tunnels
// outlive the daemon (kernel WireGuard), the home keeps its default
// through a restart instead of losing it until the sessions are up (the
// handshakes, BGP's first connect, BFD, the hold-down). A prefix leaves the
// grace as soon as BGP carries it again; whatever BGP never brings back
// goes when the grace ends.
const RestartGrace = 30 * time.Second

// grace is the restart grace's state: the adopted routes still kept.
type grace struct {
	until time.Time
	kept  map[netip.Prefix][]fib.WeightedNexthop
}

// newGrace starts a grace for the routes found at start.
func newGrace(adopted map[netip.Prefix][]fib.WeightedNexthop, now time.Time) grace {
	if len(adopted) == 0 {
		return grace{}
	}
	return grace{until: now.Add(RestartGrace), kept: maps.Clone(adopted)}
}

// apply adds to want, while the grace runs, every adopted route BGP does
// not carry yet, as it was, and forgets those BGP carries now (from then
// on they fail over like any other). It reports how many it kept, and
// whether the grace just ended (now past it: everything left forgotten).
func (g *grace) apply(want map[netip.Prefix][]fib.WeightedNexthop, now time.Time) (kept int, ended bool) {
	if g.kept == nil {
		return 0, false
	}
	if !now.Before(g.until) {
		g.kept = nil
		return 0, true
	}
	for p, nhs := range g.kept {
		if _, carried := want[p]; carried {
			delete(g.kept, p)
			continue
		}
		want[p] = nhs
		kept++
	}
	if len(g.kept) == 0 {
		g.kept = nil
		return 0, true
	}
	return kept, false
}

// next is when the grace ends, zero when none runs.
func (g *grace) next() time.Time {
	if g.kept == nil {
		return time.Time{}
	}
	return g.until
}
