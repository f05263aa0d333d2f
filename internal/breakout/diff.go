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
	prev = SortedCopy(prev)
	next = SortedCopy(next)
	// Sized exactly by a first walk: appending to a cold start's whole set
	// (159 k routes of the 998 k table) left up to twice its 5 MB live
	// while the set was installed.
	nAdd, nDel := 0, 0
	mergeDiff(prev, next, func(int) { nDel++ }, func(int) { nAdd++ })
	add, del = make([]netip.Prefix, 0, nAdd), make([]netip.Prefix, 0, nDel)
	mergeDiff(prev, next, func(i int) { del = append(del, prev[i]) }, func(j int) { add = append(add, next[j]) })
	return add, del
}

// mergeDiff walks two sorted, unique lists and calls gone with the
// position in prev of each prefix next lacks, and fresh with the position
// in next of each prefix prev lacks.
func mergeDiff(prev, next []netip.Prefix, gone, fresh func(int)) {
	i, j := 0, 0
	for i < len(prev) && j < len(next) {
		switch c := ComparePrefix(prev[i], next[j]); {
		case c < 0:
			gone(i)
			i++
		case c > 0:
			fresh(j)
			j++
		default:
			i++
			j++
		}
	}
	for ; i < len(prev); i++ {
		gone(i)
	}
	for ; j < len(next); j++ {
		fresh(j)
	}
}

// SortedCopy returns ps in ComparePrefix's order without duplicates: ps
// itself when it already is, so that the common case (sets produced by
// Compile) costs one pass and no copy, else a sorted copy.
func SortedCopy(ps []netip.Prefix) []netip.Prefix {
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
