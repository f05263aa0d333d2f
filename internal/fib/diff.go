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

// comparePrefix orders prefixes by family, address, then longest first:
// the order of the kernel's IPv4 dump, so sorting ~1 M dumped routes is a
// linear pass (pdqsort detects sorted input), as is a sorted netipx set.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(b.Bits(), a.Bits())
}

// normalize masks prefixes and returns the routes sorted by prefix, with
// exact duplicates dropped. An invalid prefix, or one listed with two
// different nexthops, is refused before anything is touched.
func normalize(routes []Route) ([]Route, error) {
	if isNormal(routes) {
		return routes, nil // a sorted set (netipx hands them out so) needs no copy
	}
	out := make([]Route, 0, len(routes))
	for _, r := range routes {
		if !r.Prefix.IsValid() {
			return nil, fmt.Errorf("invalid prefix %v", r.Prefix)
		}
		r.Prefix = r.Prefix.Masked()
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Route) int { return comparePrefix(a.Prefix, b.Prefix) })
	return dedup(out)
}

// isNormal reports whether routes are valid, masked, sorted and unique, so
// normalize can use them as they are.
func isNormal(routes []Route) bool {
	for i, r := range routes {
		if !r.Prefix.IsValid() || r.Prefix.Masked() != r.Prefix {
			return false
		}
		if i > 0 && comparePrefix(routes[i-1].Prefix, r.Prefix) >= 0 {
			return false
		}
	}
	return true
}

// spread maps the i-th message of a batch of n to the route it carries:
// i·s mod n with s coprime to n near n/φ, a permutation that jumps across a
// sorted set. The kernel's IPv4 trie deletes a sorted run 2–4x slower than
// a spread one (998 k RouteViews prefixes: 5.8–9.6 s vs 1.4–3.3 s), and
// Sync's and Sweep's sets are sorted. Inserts stay sorted: see AddRoutes.
func spread(n int) func(int) int {
	s := max(int(float64(n)*0.6180339887), 1)
	for gcd(s, n) != 1 {
		s++
	}
	return func(i int) int { return int(uint64(i) * uint64(s) % uint64(n)) }
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// dedup drops repeated routes from a sorted slice and refuses a prefix that
// comes with two different nexthops: which one was meant is unknowable.
func dedup(rs []Route) ([]Route, error) {
	w := 0
	for i := range rs {
		if w > 0 && rs[w-1].Prefix == rs[i].Prefix {
			if rs[w-1].Nexthop != rs[i].Nexthop {
				return nil, fmt.Errorf("prefix %s listed with two nexthops: %s and %s", rs[i].Prefix, rs[w-1].Nexthop, rs[i].Nexthop)
			}
			continue
		}
		rs[w] = rs[i]
		w++
	}
	return rs[:w], nil
}

// diffRoutes merges two prefix-sorted lists. A sort-merge keeps memory flat
// for ~1 M prefixes where a map would double it.
func diffRoutes(desired, actual []Route) routeDiff {
	switch { // a cold start or a flush: no copy of a ~1 M route set
	case len(actual) == 0:
		return routeDiff{add: desired}
	case len(desired) == 0:
		return routeDiff{del: actual}
	}
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
