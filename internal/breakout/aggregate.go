package breakout

import (
	"iter"
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// Aggregate returns the minimal list of prefixes that covers exactly the
// addresses of ps, in ComparePrefix order. Overlapping and adjacent prefixes
// merge; nothing outside the union is ever added.
//
// It gives the same result as netipx.IPSetBuilder + IPSet.Prefixes (a test
// holds it to that) but merges the sorted prefixes as ranges in one pass and
// lets netipx split each merged range into prefixes: on the 998 k-row table
// that is several times faster and allocates a fraction of the memory.
func Aggregate(ps []netip.Prefix) []netip.Prefix {
	ps = SortedCopy(ps)
	return aggregateSorted(slices.Values(ps), len(ps))
}

// aggregateSorted is Aggregate of prefixes that come in ComparePrefix
// order, duplicates allowed; n sizes the output. Compile feeds it straight
// from the index, without a list of a million prefixes in between.
func aggregateSorted(ps iter.Seq[netip.Prefix], n int) []netip.Prefix {
	out := make([]netip.Prefix, 0, n/4)
	mergedRanges(ps, func(r netipx.IPRange) { out = r.AppendPrefixes(out) })
	// The result is kept as long as it is installed: not with the guess's
	// spare room (the 998 k table aggregates to 159 k, 5 MB in 8).
	if cap(out)-len(out) > len(out)/8 {
		out = slices.Clone(out)
	}
	return out
}

// mergedRanges calls fn with each maximal range of the union of ps, which
// come in ComparePrefix order, duplicates allowed.
func mergedRanges(ps iter.Seq[netip.Prefix], fn func(netipx.IPRange)) {
	var cur netipx.IPRange
	for p := range ps {
		r := netipx.RangeOfPrefix(p)
		if cur.IsValid() && joins(cur, r) {
			if r.To().Compare(cur.To()) > 0 {
				cur = netipx.IPRangeFrom(cur.From(), r.To())
			}
			continue
		}
		if cur.IsValid() {
			fn(cur)
		}
		cur = r
	}
	if cur.IsValid() {
		fn(cur)
	}
}

// joins reports whether r, which starts at or after cur, overlaps or touches
// cur within the same address family.
func joins(cur, r netipx.IPRange) bool {
	if cur.From().Is4() != r.From().Is4() {
		return false
	}
	next := cur.To().Next()
	return !next.IsValid() || r.From().Compare(next) <= 0
}
