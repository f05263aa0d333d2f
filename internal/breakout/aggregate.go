package breakout

import (
	"net/netip"

	"go4.org/netipx"
)

// Aggregate returns the minimal list of prefixes that covers exactly the
// addresses of ps, in ComparePrefix order. Overlapping and adjacent prefixes
// merge; nothing outside the union is ever added.
func Aggregate(ps []netip.Prefix) []netip.Prefix {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p)
	}
	s, _ := b.IPSet() // the builder only fails on invalid prefixes, skipped by AddPrefix
	return s.Prefixes()
}
