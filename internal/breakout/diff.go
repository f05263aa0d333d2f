package breakout

import (
	"net/netip"
	"slices"
)

// Diff returns the prefixes to add (in next, not in prev) and to delete (in
// prev, not in next). Both inputs are sorted in ComparePrefix order if they
// are not already; the outputs are sorted. A sorted merge beats hashing on a
// million prefixes (see BenchmarkDiff) and needs no extra memory.
func Diff(prev, next []netip.Prefix) (add, del []netip.Prefix) {
	prev = sortedCopy(prev)
	next = sortedCopy(next)
	i, j := 0, 0
	for i < len(prev) && j < len(next) {
		switch c := ComparePrefix(prev[i], next[j]); {
		case c < 0:
			del = append(del, prev[i])
			i++
		case c > 0:
			add = append(add, next[j])
			j++
		default:
			i++
			j++
		}
	}
	del = append(del, prev[i:]...)
	add = append(add, next[j:]...)
	return add, del
}

// sortedCopy returns ps itself when it is already sorted and unique, so that
// the common case (sets produced by Compile) costs one pass and no copy.
func sortedCopy(ps []netip.Prefix) []netip.Prefix {
	if isSortedUnique(ps) {
		return ps
	}
	return SortPrefixes(slices.Clone(ps))
}

func isSortedUnique(ps []netip.Prefix) bool {
	for i := 1; i < len(ps); i++ {
		if ComparePrefix(ps[i-1], ps[i]) >= 0 {
			return false
		}
	}
	return true
}
