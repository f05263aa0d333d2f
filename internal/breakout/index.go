package breakout

import (
	"cmp"
	"iter"
	"net/netip"
	"slices"
	"sort"
)

// Index answers "why is this routed via breakout": which source entries
// contain an address, or fall inside an aggregated prefix. It keeps the
// caller's sets of entries (not a copy, nor one joined copy: a million
// entries are 32 MB) and a permutation that sorts them by prefix, so a
// subtree is one contiguous run.
type Index struct {
	sets  [][]Entry
	ends  []int32 // ends[i]: the position after the last entry of sets[i]
	order []int32 // positions across sets, sorted by prefix then position
}

// NewIndex indexes es, which must not be modified afterwards.
func NewIndex(es []Entry) *Index {
	order := make([]int32, len(es))
	for i := range order {
		order[i] = int32(i)
	}
	return newIndex([][]Entry{es}, order)
}

// newIndex indexes the entries of sets at the positions in order, a
// position counting through the sets one after the other.
func newIndex(sets [][]Entry, order []int32) *Index {
	x := &Index{sets: sets, order: order}
	n := int32(0)
	for _, s := range sets {
		n += int32(len(s))
		x.ends = append(x.ends, n)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Or(comparePrefix(x.entry(a), x.entry(b)), cmp.Compare(a, b))
	})
	return x
}

// entry returns the entry at position pos across the sets.
func (x *Index) entry(pos int32) *Entry {
	start := int32(0)
	for i, end := range x.ends {
		if pos < end {
			return &x.sets[i][pos-start]
		}
		start = end
	}
	panic("breakout: index position out of range")
}

// Len is the number of entries indexed.
func (x *Index) Len() int { return len(x.order) }

// Entries returns the indexed entries, sorted by prefix.
func (x *Index) Entries() []Entry { return x.collect(0, len(x.order)) }

// Lookup returns the entries whose prefix contains a, least specific
// first; entries with the same prefix keep their input order.
func (x *Index) Lookup(a netip.Addr) []Entry {
	var out []Entry
	for bits := 0; bits <= a.BitLen(); bits++ {
		p, _ := a.Prefix(bits)
		lo := x.search(p)
		hi := lo
		for hi < len(x.order) && x.at(hi).Prefix() == p {
			hi++
		}
		out = append(out, x.collect(lo, hi)...)
	}
	return out
}

// Within returns the entries whose prefix lies inside p (p itself included):
// the contributors of an aggregated prefix.
func (x *Index) Within(p netip.Prefix) []Entry {
	p = p.Masked()
	var out []Entry
	for i := x.search(p); i < len(x.order); i++ {
		e := x.at(i)
		if !p.Contains(e.Prefix().Addr()) {
			break
		}
		if e.Prefix().Bits() >= p.Bits() {
			out = append(out, *e)
		}
	}
	return out
}

func (x *Index) at(i int) *Entry { return x.entry(x.order[i]) }

func (x *Index) collect(lo, hi int) []Entry {
	var out []Entry
	for i := lo; i < hi; i++ {
		out = append(out, *x.at(i))
	}
	return out
}

// search returns the first position whose prefix is not before p.
func (x *Index) search(p netip.Prefix) int {
	return sort.Search(len(x.order), func(i int) bool { return ComparePrefix(x.at(i).Prefix(), p) >= 0 })
}

// prefixes yields the prefixes in order, a prefix as often as entries
// have it.
func (x *Index) prefixes() iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		for i := range x.order {
			if !yield(x.at(i).Prefix()) {
				return
			}
		}
	}
}
