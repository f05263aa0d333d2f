package breakout

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// Entry is one prefix as a source published it, with the metadata needed to
// write a seed-format route file and to explain a route to a user.
type Entry struct {
	Prefix             netip.Prefix
	Source             string // configured source name, e.g. "aws-tokyo"
	ASN                uint32 // origin AS (asn sources, route files); 0 when unknown
	ASNName            string // e.g. AMAZON-02
	Category           string // route-file category, e.g. internet; M365 category
	Name               string // route-file name, e.g. AMAZON; GitHub meta key
	Service            string // AWS service, M365 service area, Google Cloud service
	Region             string // AWS region, Google Cloud scope
	NetworkBorderGroup string // AWS network border group
}

// String describes the entry the way a user asks about it:
// "aws EC2 ap-northeast-1 3.112.0.0/14", and with the name that yielded
// it, "media media.example.net 192.0.2.1/32".
func (e Entry) String() string {
	s := e.Source
	for _, f := range []string{e.Service, e.Region, e.Name} {
		if f != "" {
			s += " " + f
		}
	}
	if e.NetworkBorderGroup != "" && e.NetworkBorderGroup != e.Region {
		s += " nbg=" + e.NetworkBorderGroup
	}
	if e.ASN != 0 {
		s += fmt.Sprintf(" AS%d", e.ASN)
	}
	return s + " " + e.Prefix.String()
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
	if c := ComparePrefix(a.Prefix, b.Prefix); c != 0 {
		return c
	}
	return cmp.Or(
		cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.ASN, b.ASN),
		cmp.Compare(a.ASNName, b.ASNName),
		cmp.Compare(a.Category, b.Category),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Service, b.Service),
		cmp.Compare(a.Region, b.Region),
		cmp.Compare(a.NetworkBorderGroup, b.NetworkBorderGroup),
	)
}

// SortEntries sorts entries in place in CompareEntry order.
func SortEntries(es []Entry) {
	slices.SortFunc(es, CompareEntry)
}

// SetSource returns es with Source set to name on every entry; parsers do not
// know the configured name of the source they parse for.
func SetSource(es []Entry, name string) []Entry {
	for i := range es {
		es[i].Source = name
	}
	return es
}

// Prefixes returns the prefixes of es, sorted and without duplicates.
func Prefixes(es []Entry) []netip.Prefix {
	ps := make([]netip.Prefix, len(es))
	for i, e := range es {
		ps[i] = e.Prefix
	}
	return SortPrefixes(ps)
}

// SortPrefixes sorts ps in ComparePrefix order and drops duplicates, in place.
func SortPrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, ComparePrefix)
	return slices.Compact(ps)
}
