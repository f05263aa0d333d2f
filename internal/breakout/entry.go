package breakout

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"unique"
)

// Attrs describe where an entry came from: what a seed-format route file
// needs and what explains a route to a user. They are the same for most
// entries of a source (every prefix of a prefix2as table shares them), so
// an Entry holds them interned.
type Attrs struct {
	Source             string // configured source name, e.g. "aws-tokyo"
	ASNName            string // e.g. AMAZON-02
	Category           string // route-file category, e.g. internet; M365 category
	Name               string // route-file name, e.g. AMAZON; GitHub meta key
	Service            string // AWS service, M365 service area, Google Cloud service
	Region             string // AWS region, Google Cloud scope
	NetworkBorderGroup string // AWS network border group
}

// Entry is one prefix as a source published it. It is 32 bytes: a million
// entries (a full RouteViews table as one source) cost 32 MB, not the
// 152 MB seven strings each would, nor the 48 MB of a netip.Prefix (which
// keeps room for a zone) beside them; that is most of the daemon's memory.
// Entries are comparable with ==.
type Entry struct {
	addr  [16]byte             // IPv4 in the first 4 bytes
	attrs unique.Handle[Attrs] // zero: no attributes
	ASN   uint32               // origin AS (asn sources, route files); 0 when unknown
	bits  uint8
	fam   uint8 // 4, 6, or 0 for no prefix (the zero Entry)
}

// NewEntry makes an entry. Interning costs a hash lookup: a parser making
// many entries with the same Attrs should make one and use WithPrefix.
func NewEntry(p netip.Prefix, asn uint32, a Attrs) Entry {
	e := Entry{ASN: asn, attrs: intern(a)}
	e.SetPrefix(p)
	return e
}

// PrefixEntry is an entry for p and asn without attributes.
func PrefixEntry(p netip.Prefix, asn uint32) Entry {
	var e Entry
	e.SetPrefix(p)
	e.ASN = asn
	return e
}

// Prefix is the entry's prefix, as the source gave it.
func (e Entry) Prefix() netip.Prefix {
	switch e.fam {
	case 4:
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(e.addr[:4])), int(e.bits))
	case 6:
		return netip.PrefixFrom(netip.AddrFrom16(e.addr), int(e.bits))
	}
	return netip.Prefix{}
}

// SetPrefix sets the entry's prefix. An invalid prefix (the zero one) is
// kept as invalid.
func (e *Entry) SetPrefix(p netip.Prefix) {
	a := p.Addr()
	e.addr, e.bits, e.fam = a.As16(), uint8(p.Bits()), 0
	switch {
	case !p.IsValid():
		e.addr, e.bits = [16]byte{}, 0
	case a.Is4():
		e.fam = 4
		e.addr = [16]byte{}
		copy(e.addr[:4], a.AsSlice())
	default:
		e.fam = 6
	}
}

// comparePrefix is ComparePrefix(a.Prefix(), b.Prefix()) without making
// the prefixes: sorting a million entries calls it twenty million times.
func comparePrefix(a, b *Entry) int {
	// netip orders the families by bit length: no address, IPv4, IPv6.
	if a.fam != b.fam {
		return cmp.Compare(a.fam, b.fam)
	}
	if c := bytes.Compare(a.addr[:], b.addr[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.bits, b.bits)
}

// intern returns a's handle; the zero handle stands for no attributes.
func intern(a Attrs) unique.Handle[Attrs] {
	if a == (Attrs{}) {
		return unique.Handle[Attrs]{}
	}
	return unique.Make(a)
}

// Equal reports whether e and o are the same entry. It is e == o, spelled
// out for go-cmp, which compares values by their Equal method and cannot
// see the interned attributes otherwise.
func (e Entry) Equal(o Entry) bool { return e == o }

// SameAttrs reports whether e and o share their attributes; it is cheap.
func (e Entry) SameAttrs(o Entry) bool { return e.attrs == o.attrs }

// WithPrefix returns e for another prefix, sharing its attributes.
func (e Entry) WithPrefix(p netip.Prefix) Entry {
	e.SetPrefix(p)
	return e
}

// Attrs returns a copy of the entry's attributes.
func (e Entry) Attrs() Attrs {
	if e.attrs == (unique.Handle[Attrs]{}) {
		return Attrs{}
	}
	return e.attrs.Value()
}

// Source is the configured name of the source the entry came from.
func (e Entry) Source() string { return e.Attrs().Source }

// ASNName, Category, Name, Service, Region and NetworkBorderGroup are the
// fields of Attrs.
func (e Entry) ASNName() string            { return e.Attrs().ASNName }
func (e Entry) Category() string           { return e.Attrs().Category }
func (e Entry) Name() string               { return e.Attrs().Name }
func (e Entry) Service() string            { return e.Attrs().Service }
func (e Entry) Region() string             { return e.Attrs().Region }
func (e Entry) NetworkBorderGroup() string { return e.Attrs().NetworkBorderGroup }

// Reattr rewrites the attributes of every entry of es in place with f,
// interning each distinct result once: a source's million entries carry a
// handful of distinct Attrs, so this costs a handful of lookups.
func Reattr(es []Entry, f func(Attrs) Attrs) []Entry {
	done := map[unique.Handle[Attrs]]unique.Handle[Attrs]{}
	for i := range es {
		old := es[i].attrs
		h, ok := done[old]
		if !ok {
			h = intern(f(es[i].Attrs()))
			done[old] = h
		}
		es[i].attrs = h
	}
	return es
}

// String describes the entry the way a user asks about it:
// "aws EC2 ap-northeast-1 3.112.0.0/14", and with the name that yielded
// it, "media media.example.net 192.0.2.1/32".
func (e Entry) String() string {
	a := e.Attrs()
	s := a.Source
	for _, f := range []string{a.Service, a.Region, a.Name} {
		if f != "" {
			s += " " + f
		}
	}
	if a.NetworkBorderGroup != "" && a.NetworkBorderGroup != a.Region {
		s += " nbg=" + a.NetworkBorderGroup
	}
	if e.ASN != 0 {
		s += fmt.Sprintf(" AS%d", e.ASN)
	}
	return s + " " + e.Prefix().String()
}

// ComparePrefix orders prefixes by address, then by length, so that a prefix
// sorts right before the more specific prefixes it contains. netip's own
// Prefix.Compare puts length first, which scatters a subtree.
func ComparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// CompareEntry orders entries by prefix, then by every other field, giving
// the stable order route files and state files are written in.
func CompareEntry(a, b Entry) int {
	if c := comparePrefix(&a, &b); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ASN, b.ASN); c != 0 || a.attrs == b.attrs {
		return c
	}
	x, y := a.Attrs(), b.Attrs()
	return cmp.Or(
		cmp.Compare(x.Source, y.Source),
		cmp.Compare(x.ASNName, y.ASNName),
		cmp.Compare(x.Category, y.Category),
		cmp.Compare(x.Name, y.Name),
		cmp.Compare(x.Service, y.Service),
		cmp.Compare(x.Region, y.Region),
		cmp.Compare(x.NetworkBorderGroup, y.NetworkBorderGroup),
	)
}

// SortEntries sorts entries in place in CompareEntry order.
func SortEntries(es []Entry) {
	slices.SortFunc(es, CompareEntry)
}

// SetSource returns es with Source set to name on every entry; parsers do not
// know the configured name of the source they parse for.
func SetSource(es []Entry, name string) []Entry {
	return Reattr(es, func(a Attrs) Attrs {
		a.Source = name
		return a
	})
}

// Prefixes returns the prefixes of es, sorted and without duplicates.
func Prefixes(es []Entry) []netip.Prefix {
	ps := make([]netip.Prefix, len(es))
	for i, e := range es {
		ps[i] = e.Prefix()
	}
	return SortPrefixes(ps)
}

// SortPrefixes sorts ps in ComparePrefix order and drops duplicates, in place.
func SortPrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, ComparePrefix)
	return slices.Compact(ps)
}
