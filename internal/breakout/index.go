package breakout

import (
	"net/netip"
	"slices"
	"sort"
)

// Index answers "why is this routed via breakout": which source entries
// contain an address, or fall inside an aggregated prefix. It holds the
// entries sorted by prefix, so a subtree is one contiguous run.
type Index struct {
	es []Entry
}

// NewIndex indexes a copy of es.
func NewIndex(es []Entry) *Index {
	es = slices.Clone(es)
	SortEntries(es)
	return &Index{es: es}
}

// Len is the number of entries indexed.
func (x *Index) Len() int { return len(x.es) }

// Entries returns the indexed entries in CompareEntry order. Do not modify.
func (x *Index) Entries() []Entry { return x.es }

// Lookup returns the entries whose prefix contains a, least specific first.
func (x *Index) Lookup(a netip.Addr) []Entry {
	var out []Entry
	for bits := 0; bits <= a.BitLen(); bits++ {
		p, _ := a.Prefix(bits)
		out = append(out, x.exact(p)...)
	}
	return out
}

// Within returns the entries whose prefix lies inside p (p itself included):
// the contributors of an aggregated prefix.
func (x *Index) Within(p netip.Prefix) []Entry {
	p = p.Masked()
	lo := x.search(p)
	var out []Entry
	for _, e := range x.es[lo:] {
		if !p.Contains(e.Prefix.Addr()) {
			break
		}
		if e.Prefix.Bits() >= p.Bits() {
			out = append(out, e)
		}
	}
	return out
}

// exact returns the run of entries whose prefix is exactly p.
func (x *Index) exact(p netip.Prefix) []Entry {
	lo := x.search(p)
	hi := lo
	for hi < len(x.es) && x.es[hi].Prefix == p {
		hi++
	}
	return x.es[lo:hi]
}

// search returns the first position whose prefix is not before p.
func (x *Index) search(p netip.Prefix) int {
	return sort.Search(len(x.es), func(i int) bool { return ComparePrefix(x.es[i].Prefix, p) >= 0 })
}

// prefixes returns the distinct prefixes, already sorted by construction.
func (x *Index) prefixes() []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(x.es))
	for _, e := range x.es {
		if n := len(ps); n == 0 || ps[n-1] != e.Prefix {
			ps = append(ps, e.Prefix)
		}
	}
	return ps
}
