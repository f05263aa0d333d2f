package fib

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// routeDiff is what Sync must change: upserts (added then replaced) before deletes.
type routeDiff struct {
	add, replace, del []Route
	unchanged         int
}

// comparePrefix orders prefixes by family, address, then length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// normalize masks prefixes, refuses invalid ones and keeps the last of duplicates,
// returning routes sorted by prefix. Invalid input is refused before anything is touched.
func normalize(routes []Route) ([]Route, error) {
	out := make([]Route, 0, len(routes))
	for _, r := range routes {
		if !r.Prefix.IsValid() {
			return nil, fmt.Errorf("invalid prefix %v", r.Prefix)
		}
		r.Prefix = r.Prefix.Masked()
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b Route) int { return comparePrefix(a.Prefix, b.Prefix) })
	return dedupLast(out), nil
}

// dedupLast drops all but the last route of each prefix in a sorted slice.
func dedupLast(rs []Route) []Route {
	w := 0
	for i := range rs {
		if i+1 < len(rs) && rs[i+1].Prefix == rs[i].Prefix {
			continue
		}
		rs[w] = rs[i]
		w++
	}
	return rs[:w]
}

// diffRoutes merges two prefix-sorted lists. A sort-merge keeps memory flat
// for ~1 M prefixes where a map would double it.
func diffRoutes(desired, actual []Route) routeDiff {
	var d routeDiff
	i, j := 0, 0
	for i < len(desired) || j < len(actual) {
		c := mergeOrder(desired, actual, i, j)
		switch {
		case c < 0:
			d.add = append(d.add, desired[i])
			i++
		case c > 0:
			d.del = append(d.del, actual[j])
			j++
		default:
			if desired[i].Nexthop.matches(actual[j].Nexthop) {
				d.unchanged++
			} else {
				d.replace = append(d.replace, desired[i])
			}
			i++
			j++
		}
	}
	return d
}

// mergeOrder compares the heads of both lists; an exhausted list sorts last.
func mergeOrder(desired, actual []Route, i, j int) int {
	switch {
	case i == len(desired):
		return 1
	case j == len(actual):
		return -1
	}
	return comparePrefix(desired[i].Prefix, actual[j].Prefix)
}
