package breakout

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"net/netip"

	"go4.org/netipx"
)

// Limits an update can break, matched with errors.Is through a *HoldError.
var (
	// ErrChurn: the update removes, or adds, more than the allowed share
	// of the set it replaces.
	ErrChurn = errors.New("breakout: update changes too much of the set")
	// ErrCoverage: the set would cover more of the address space than
	// allowed.
	ErrCoverage = errors.New("breakout: set covers too much of the address space")
)

// Scopes of a HoldError.
const (
	ScopeSource = "source"    // the source's own set
	ScopeWhole  = "whole set" // the union of every source's set
)

// HoldError says why an update of one source is held rather than taken:
// which limit it breaks (Limit: ErrChurn, ErrCoverage or ErrTooMany), on
// the source's own set or on the whole set, and by how much.
type HoldError struct {
	Source string
	Scope  string // ScopeSource or ScopeWhole
	Limit  error
	Detail string // e.g. "removes 990 of 1000 prefixes (99.0%, limit 50%)"
}

func (e *HoldError) Error() string {
	if e.Scope == ScopeWhole {
		return fmt.Sprintf("update of source %s held: across all sources it %s", e.Source, e.Detail)
	}
	return fmt.Sprintf("update of source %s held: it %s", e.Source, e.Detail)
}

// Is makes errors.Is(err, e.Limit) true.
func (e *HoldError) Is(target error) bool { return target == e.Limit }

// Update is one source's freshly fetched set, to be checked against the
// set it would replace before it becomes the source's last good set.
type Update struct {
	Source string
	// Previous is the source's saved set; nil when it has none that this
	// configuration fetched (a new source, or one whose URL or filters
	// changed): then only coverage and count are limited, since there is
	// no baseline to measure change against.
	Previous []Entry
	Next     []Entry
	Others   [][]Entry // the other sources' saved sets
	// MaxCoverage overrides Guards.MaxCoverage for this source; 0 keeps it.
	MaxCoverage float64
}

// Change measures one set against the one it would replace, counting
// prefixes that pass the per-entry guards, sorted and without duplicates.
type Change struct {
	Previous, Next int // prefixes before and after
	Added, Removed int
	// Coverage4 and Coverage6 are the shares of the IPv4 address space,
	// and of IPv6's global unicast 2000::/3, that the new set covers.
	Coverage4, Coverage6 float64
	Aggregated           int // prefixes of the new set after aggregation
}

// Verdict is an update measured on the source's own set and on the whole.
type Verdict struct {
	Source, Whole Change
}

// CheckUpdate measures u and returns a *HoldError when it breaks a limit
// of g: MaxChurn and MaxGrowth on the source's own set and on the whole
// set (past MinChurn prefixes), MaxCoverage on the source's set and
// MaxTotalCoverage on the whole, MaxCount on the whole after aggregation.
// An update that passes may replace the source's last good set; one that
// does not leaves it, and what is installed, as they are.
func CheckUpdate(g Guards, u Update) (Verdict, error) {
	gd := newGuard(g)
	prev, next := gd.guardedOf(u.Previous), gd.guardedOf(u.Next)
	others := gd.guardedOf(u.Others...)
	d := countDiff(prev, next, others)
	v := Verdict{Source: measure(prev, next, d)}
	v.Whole = v.Source
	if others.Len() > 0 {
		v.Whole = measureWhole(others, prev, next, d)
	}
	hold := func(scope string, limit error, format string, args ...any) (Verdict, error) {
		return v, &HoldError{Source: u.Source, Scope: scope, Limit: limit, Detail: fmt.Sprintf(format, args...)}
	}
	maxCov := g.MaxCoverage
	if u.MaxCoverage > 0 {
		maxCov = u.MaxCoverage
	}
	if fam, share, over := v.Source.over(maxCov); over {
		return hold(ScopeSource, ErrCoverage, "would cover %s of the %s address space (limit %s)", pct(share), fam, pct(maxCov))
	}
	if fam, share, over := v.Whole.over(g.MaxTotalCoverage); over {
		return hold(ScopeWhole, ErrCoverage, "would cover %s of the %s address space (limit %s)", pct(share), fam, pct(g.MaxTotalCoverage))
	}
	if g.MaxCount > 0 && v.Whole.Aggregated > g.MaxCount {
		return hold(ScopeWhole, ErrTooMany, "would leave %d prefixes after aggregation (limit %d)", v.Whole.Aggregated, g.MaxCount)
	}
	if u.Previous == nil {
		return v, nil
	}
	if d := g.churned(v.Source); d != "" {
		return hold(ScopeSource, ErrChurn, "%s", d)
	}
	if d := g.churned(v.Whole); d != "" {
		return hold(ScopeWhole, ErrChurn, "%s", d)
	}
	return v, nil
}

// churned says which share limit c breaks, if any, e.g. "removes 990 of
// 1000 prefixes (99.0%, limit 50.0%)"; changes of at most MinChurn
// prefixes break none.
func (g Guards) churned(c Change) string {
	if c.Previous == 0 {
		return ""
	}
	share := func(n int) float64 { return float64(n) / float64(c.Previous) }
	switch {
	case g.MaxChurn > 0 && c.Removed > g.MinChurn && share(c.Removed) > g.MaxChurn:
		return fmt.Sprintf("removes %d of %d prefixes (%s, limit %s)", c.Removed, c.Previous, pct(share(c.Removed)), pct(g.MaxChurn))
	case g.MaxGrowth > 0 && c.Added > g.MinChurn && share(c.Added) > g.MaxGrowth:
		return fmt.Sprintf("adds %d prefixes to %d (%s, limit %s)", c.Added, c.Previous, pct(share(c.Added)), pct(g.MaxGrowth))
	}
	return ""
}

// over reports the family whose coverage is past limit (0: no limit).
func (c Change) over(limit float64) (family string, share float64, over bool) {
	switch {
	case limit <= 0:
	case c.Coverage4 > limit:
		return "IPv4", c.Coverage4, true
	case c.Coverage6 > limit:
		return "IPv6 global unicast", c.Coverage6, true
	}
	return "", 0, false
}

func pct(share float64) string { return fmt.Sprintf("%.1f%%", 100*share) }

// measure compares two guarded sets, d their diff counted.
func measure(prev, next guarded, d diffCount) Change {
	c := Change{Previous: prev.Len(), Next: next.Len(), Added: d.added, Removed: d.removed}
	c.summarize(next.all())
	return c
}

// measureWhole is measure of others+prev against others+next, without
// building either union.
func measureWhole(others, prev, next guarded, d diffCount) Change {
	c := Change{
		Previous: others.Len() + prev.Len() - prev.countIn(others),
		Next:     others.Len() + next.Len() - next.countIn(others),
		Added:    d.added - d.addedElsewhere,
		Removed:  d.removed - d.removedElsewhere,
	}
	c.summarize(others.mergedWith(next))
	return c
}

// summarize aggregates ps (sorted) as Aggregate does, counting the
// prefixes and the address space of the result without keeping them.
func (c *Change) summarize(ps iter.Seq[netip.Prefix]) {
	var scratch []netip.Prefix
	mergedRanges(ps, func(r netipx.IPRange) {
		scratch = r.AppendPrefixes(scratch[:0])
		c.Aggregated += len(scratch)
		for _, p := range scratch {
			if p.Addr().Is4() {
				c.Coverage4 += math.Ldexp(1, -p.Bits())
			} else {
				c.Coverage6 += math.Ldexp(1, 3-p.Bits())
			}
		}
	})
	c.Coverage6 = min(c.Coverage6, 1) // a prefix outside 2000::/3 still counts
}
