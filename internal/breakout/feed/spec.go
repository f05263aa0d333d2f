package feed

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/routefile"
)

// Kind names a feed format: the `type` of a [[breakout.source]].
type Kind string

// Feed kinds. KindURL is a plain prefix list; KindASN accepts a prefix2as
// table, a prefix<TAB>origin table (pyasn) or a per-ASN plain list, told
// apart by the shape of the first data line.
const (
	KindAWS        Kind = "aws"
	KindGoogle     Kind = "google"
	KindCloudflare Kind = "cloudflare"
	KindGitHub     Kind = "github"
	KindM365       Kind = "m365"
	KindURL        Kind = "url"
	KindASN        Kind = "asn"
	KindFile       Kind = "file"   // a seed-format YAML route file
	KindStatic     Kind = "static" // Spec.Prefixes; no body
	KindDNS        Kind = "dns"    // names resolved by package dnsfeed; no body
)

// Spec is what a configured source asks of its feed. Fields that do not
// apply to Kind are ignored.
type Spec struct {
	Name                string // the source name, copied into every Entry
	Kind                Kind
	Services            []string       // aws
	Regions             []string       // aws
	NetworkBorderGroups []string       // aws
	Keys                []string       // github
	Categories          []string       // m365
	ServiceAreas        []string       // m365
	ASNs                []uint32       // asn
	Prefixes            []netip.Prefix // static
	// Meta fills route-file header fields (ASN, ASNName, Category, Name)
	// of entries the feed left empty, e.g. AS16509 AMAZON-02 for aws.
	Meta breakout.Entry
}

// Parse parses one fetched body within the default Limits. For KindGoogle
// a second body, when given, is cloud.json and is subtracted from the
// first (goog.json).
func (s Spec) Parse(bodies ...[]byte) ([]breakout.Entry, error) {
	return s.ParseWithin(Limits{}, bodies...)
}

// ParseWithin is Parse within lim: a gzip'd body that unpacks past
// lim.MaxBytes, or a feed that yields more than lim.MaxEntries entries, is
// refused (ErrTooLarge, ErrTooMany) once the limit is passed.
func (s Spec) ParseWithin(lim Limits, bodies ...[]byte) ([]breakout.Entry, error) {
	if len(bodies) == 0 && s.Kind != KindStatic {
		return nil, fmt.Errorf("source %s: no body", s.Name)
	}
	es, err := s.parse(bodies, lim)
	if err == nil {
		err = lim.check(string(s.Kind), es)
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s.Name, err)
	}
	return s.Fill(es), nil
}

// Fill sets Source on es and fills the route-file header fields they left
// empty from Meta, in place; for entries that come from no body (dns).
func (s Spec) Fill(es []breakout.Entry) []breakout.Entry {
	for i := range es {
		if es[i].ASN == 0 {
			es[i].ASN = s.Meta.ASN
		}
	}
	return breakout.Reattr(es, s.fillAttrs)
}

func (s Spec) parse(b [][]byte, lim Limits) ([]breakout.Entry, error) {
	switch s.Kind {
	case KindAWS:
		return ParseAWS(b[0], AWSFilter{s.Services, s.Regions, s.NetworkBorderGroups})
	case KindGoogle:
		if len(b) > 1 {
			return ParseGoogleMinusCloud(b[0], b[1])
		}
		return ParseGoogle(b[0])
	case KindCloudflare, KindURL:
		return parsePrefixList(b[0], breakout.Entry{}, lim)
	case KindGitHub:
		return ParseGitHub(b[0], s.Keys)
	case KindM365:
		return ParseM365(b[0], M365Filter{s.Categories, s.ServiceAreas})
	case KindASN:
		return parseASNTable(b[0], s.ASNs, lim)
	case KindFile:
		return routefile.Read(b[0], s.Name)
	case KindStatic:
		return static(s.Prefixes)
	case KindDNS:
		return nil, errors.New("a dns source is resolved, not parsed")
	}
	return nil, fmt.Errorf("unknown feed type %q", s.Kind)
}

// fillAttrs is the Attrs half of Fill.
func (s Spec) fillAttrs(a breakout.Attrs) breakout.Attrs {
	m := s.Meta.Attrs()
	a.Source = s.Name
	a.ASNName = or(a.ASNName, m.ASNName)
	a.Category = or(a.Category, m.Category)
	a.Name = or(a.Name, m.Name)
	return a
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ParseASN reads any of the BGP-derived formats: prefix2as (3 fields),
// prefix<TAB>origin (2 fields) or a plain per-ASN list (1 field). A plain
// list names no origin, so it is taken as belonging to asns[0] when exactly
// one ASN is configured.
func ParseASN(body []byte, asns []uint32) ([]breakout.Entry, error) {
	return parseASNTable(body, asns, Limits{})
}

func parseASNTable(body []byte, asns []uint32, lim Limits) ([]breakout.Entry, error) {
	unpacked, err := maybeGunzip("asn", body, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	switch firstFieldCount(unpacked) {
	case 3:
		return parsePfx2as(unpacked, asns, lim)
	case 2:
		return parsePrefixOrigin(unpacked, asns, lim)
	}
	var tmpl breakout.Entry
	if len(asns) == 1 {
		tmpl.ASN = asns[0]
	}
	return parsePrefixList(unpacked, tmpl, lim)
}

// firstFieldCount counts the fields of the first line that is not blank or
// a comment.
func firstFieldCount(body []byte) int {
	n := 0
	_ = eachLine(body, "#;", func(_ int, line []byte) error {
		n = len(fields(line, nil))
		return errStop
	})
	return n
}

var errStop = errors.New("stop")

// static turns configured prefixes into entries, with the same checks as a
// feed: host bits clear, at least one prefix.
func static(ps []netip.Prefix) ([]breakout.Entry, error) {
	if len(ps) == 0 {
		return nil, perr("static", "", ErrEmpty)
	}
	out := make([]breakout.Entry, len(ps))
	for i, p := range ps {
		if _, err := checkMasked(p); err != nil || !p.IsValid() {
			return nil, perr("static", fmt.Sprintf("prefix %d", i+1), malformedf("invalid prefix %s", p))
		}
		out[i] = breakout.PrefixEntry(p, 0)
	}
	return out, nil
}
