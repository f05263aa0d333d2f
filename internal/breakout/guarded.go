package breakout

import (
	"iter"
	"net/netip"
	"slices"
)

// guarded is the set of prefixes that entries pass the per-entry guards
// with: sorted, without duplicates, read through an Index of positions
// into the entries. CheckUpdate measures a million-entry source in 4 MB of
// positions a set, where copies of the prefixes took 31 MB each (and their
// Diff as much again): the gate of a new full table peaked at the parsed
// entries plus 61 MB.
type guarded struct{ x *Index }

// guardedOf returns the guarded set of the entries of sets.
func (g guard) guardedOf(sets ...[]Entry) guarded {
	pos := g.accepted(sets, nil)
	x := newIndex(sets, pos)
	x.order = slices.CompactFunc(x.order, func(a, b int32) bool { return comparePrefix(x.entry(a), x.entry(b)) == 0 })
	return guarded{x}
}

// Len is the number of prefixes.
func (s guarded) Len() int { return len(s.x.order) }

// at is the i-th prefix in order.
func (s guarded) at(i int) netip.Prefix { return s.x.at(i).Prefix() }

// has reports whether p is in the set.
func (s guarded) has(p netip.Prefix) bool {
	i := s.x.search(p)
	return i < s.Len() && s.at(i) == p
}

// all yields the prefixes in order.
func (s guarded) all() iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		for i := range s.Len() {
			if !yield(s.at(i)) {
				return
			}
		}
	}
}

// countIn counts the prefixes of s that are in set.
func (s guarded) countIn(set guarded) int {
	n := 0
	for p := range s.all() {
		if set.has(p) {
			n++
		}
	}
	return n
}

// diffCount is Diff(prev, next) counted, not kept: how many prefixes were
// added and removed, and how many of each the other sources have.
type diffCount struct {
	added, removed                   int
	addedElsewhere, removedElsewhere int
}

// countDiff walks prev and next once, in order.
func countDiff(prev, next, others guarded) diffCount {
	var d diffCount
	added := func(p netip.Prefix) {
		d.added++
		if others.has(p) {
			d.addedElsewhere++
		}
	}
	removed := func(p netip.Prefix) {
		d.removed++
		if others.has(p) {
			d.removedElsewhere++
		}
	}
	i, j := 0, 0
	for i < prev.Len() && j < next.Len() {
		switch c := ComparePrefix(prev.at(i), next.at(j)); {
		case c < 0:
			removed(prev.at(i))
			i++
		case c > 0:
			added(next.at(j))
			j++
		default:
			i++
			j++
		}
	}
	for ; i < prev.Len(); i++ {
		removed(prev.at(i))
	}
	for ; j < next.Len(); j++ {
		added(next.at(j))
	}
	return d
}

// mergedWith yields the prefixes of s and o in order (a prefix of both
// twice).
func (s guarded) mergedWith(o guarded) iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		i, j := 0, 0
		for i < s.Len() || j < o.Len() {
			var p netip.Prefix
			if j == o.Len() || (i < s.Len() && ComparePrefix(s.at(i), o.at(j)) <= 0) {
				p, i = s.at(i), i+1
			} else {
				p, j = o.at(j), j+1
			}
			if !yield(p) {
				return
			}
		}
	}
}
