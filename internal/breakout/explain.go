package breakout

import (
	"net/netip"
	"sort"
)

// Explain answers `uplinkd explain IP`: the installed prefix that routes a
// via breakout and the source entries inside it that contain a. ok is false
// when a does not leave through breakout.
func (r Result) Explain(a netip.Addr) (route netip.Prefix, entries []Entry, ok bool) {
	// Prefixes are disjoint and sorted, so the only candidate is the last
	// one starting at or before a.
	i := sort.Search(len(r.Prefixes), func(i int) bool { return r.Prefixes[i].Addr().Compare(a) > 0 })
	if i == 0 || !r.Prefixes[i-1].Contains(a) {
		return netip.Prefix{}, nil, false
	}
	route = r.Prefixes[i-1]
	if r.Index != nil {
		entries = r.Index.Lookup(a)
	}
	return route, entries, true
}
