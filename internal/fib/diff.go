package fib

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// routeDiff is what Sync must change: upserts (added then replaced) before
// deletes. It holds positions, not routes: on a ~1 M route set a copy of
// the routes to add costs 72 MB where their positions cost 4.
type routeDiff struct {
	desired      RouteSet
	actual       []Route
	add, replace []int32 // positions in desired
	del          []int32 // positions in actual
	unchanged    int
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
	set, err := normalizeSet(Routes(routes))
	if err != nil {
		return nil, err
	}
	return set.(Routes), nil
}

// normalizeSet is normalize of any RouteSet: a normal one (a compiled,
// sorted set of prefixes) is used as it is, without a slice of routes.
func normalizeSet(set RouteSet) (RouteSet, error) {
	if isNormal(set) {
		return set, nil
	}
	out := make([]Route, 0, set.Len())
	for i := range set.Len() {
		r := set.At(i)
		if !r.Prefix.IsValid() {
			return nil, fmt.Errorf("invalid prefix %v", r.Prefix)
		}
		r.Prefix = r.Prefix.Masked()
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Route) int { return comparePrefix(a.Prefix, b.Prefix) })
	out, err := dedup(out)
	if err != nil {
		return nil, err
	}
	return Routes(out), nil
}

// isNormal reports whether routes are valid, masked, sorted and unique, so
// normalize can use them as they are.
func isNormal(set RouteSet) bool {
	var prev netip.Prefix
	for i := range set.Len() {
		p := set.At(i).Prefix
		if !p.IsValid() || p.Masked() != p {
			return false
		}
		if i > 0 && comparePrefix(prev, p) >= 0 {
			return false
		}
		prev = p
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
// for ~1 M prefixes where a map would double it. The routes to add are
// sized for what desired has beyond actual's count: exact for a cold start
// (a whole set's positions appended step by step cost five times their 4
// bytes a route), and a churn's few more grow as they come.
func diffRoutes(desired RouteSet, actual []Route) routeDiff {
	d := routeDiff{desired: desired, actual: actual, add: make([]int32, 0, max(desired.Len()-len(actual), 0))}
	d.unchanged = mergeRoutes(desired, actual,
		func(i int) { d.add = append(d.add, int32(i)) },
		func(i int) { d.replace = append(d.replace, int32(i)) },
		func(j int) { d.del = append(d.del, int32(j)) })
	return d
}

// mergeRoutes walks desired and actual in step and calls add with the
// position in desired of each prefix actual lacks, replace with that of
// each prefix actual holds with another nexthop, and del with the position
// in actual of each prefix desired lacks. It returns how many matched.
func mergeRoutes(desired RouteSet, actual []Route, add, replace, del func(int)) (unchanged int) {
	n := desired.Len()
	i, j := 0, 0
	for i < n && j < len(actual) {
		want := desired.At(i)
		switch c := comparePrefix(want.Prefix, actual[j].Prefix); {
		case c < 0:
			add(i)
			i++
		case c > 0:
			del(j)
			j++
		default:
			if want.Nexthop.matches(actual[j].Nexthop) {
				unchanged++
			} else {
				replace(i)
			}
			i++
			j++
		}
	}
	for ; i < n; i++ {
		add(i)
	}
	for ; j < len(actual); j++ {
		del(j)
	}
	return unchanged
}
