package feed

import (
	"fmt"
	"net/netip"

	"go4.org/netipx"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

type googFile struct {
	SyncToken    string        `json:"syncToken"`
	CreationTime string        `json:"creationTime"`
	Prefixes     *[]googPrefix `json:"prefixes"`
}

type googPrefix struct {
	IPv4Prefix string `json:"ipv4Prefix"`
	IPv6Prefix string `json:"ipv6Prefix"`
	Service    string `json:"service"` // cloud.json only
	Scope      string `json:"scope"`   // cloud.json only
}

// ParseGoogle parses Google's goog.json or cloud.json. Service and scope
// (cloud.json) become Service and Region.
func ParseGoogle(body []byte) ([]breakout.Entry, error) {
	const format = "google"
	var f googFile
	if err := decodeJSON(format, body, &f); err != nil {
		return nil, err
	}
	switch {
	case f.SyncToken == "":
		return nil, perr(format, "", malformedf("no syncToken"))
	case f.Prefixes == nil:
		return nil, perr(format, "", malformedf("no prefixes key"))
	case len(*f.Prefixes) == 0:
		return nil, perr(format, "$.prefixes", ErrEmpty)
	}
	out := make([]breakout.Entry, 0, len(*f.Prefixes))
	for i, p := range *f.Prefixes {
		pfx, err := p.prefix()
		if err != nil {
			return nil, perr(format, fmt.Sprintf("$.prefixes[%d]", i), malformed(err))
		}
		out = append(out, breakout.NewEntry(pfx, 0, breakout.Attrs{Service: p.Service, Region: p.Scope}))
	}
	return out, nil
}

func (p googPrefix) prefix() (netip.Prefix, error) {
	switch {
	case p.IPv4Prefix != "" && p.IPv6Prefix != "":
		return netip.Prefix{}, fmt.Errorf("both ipv4Prefix and ipv6Prefix")
	case p.IPv4Prefix != "":
		return familyPrefix(p.IPv4Prefix, false)
	case p.IPv6Prefix != "":
		return familyPrefix(p.IPv6Prefix, true)
	}
	return netip.Prefix{}, fmt.Errorf("neither ipv4Prefix nor ipv6Prefix")
}

func familyPrefix(s string, v6 bool) (netip.Prefix, error) {
	p, err := parsePrefix(s, false)
	if err == nil && p.Addr().Is6() != v6 {
		err = fmt.Errorf("%s is the wrong address family", p)
	}
	return p, err
}

// ParseGoogleMinusCloud returns Google's own ranges (goog.json) without the
// ranges customers rent (cloud.json): what Google recommends for "Google
// services but not Google Cloud". The result is the minimal prefix list of
// the set difference; entries carry no per-prefix metadata since a prefix
// may be a piece of a split goog.json range.
func ParseGoogleMinusCloud(goog, cloud []byte) ([]breakout.Entry, error) {
	g, err := ParseGoogle(goog)
	if err != nil {
		return nil, fmt.Errorf("goog.json: %w", err)
	}
	c, err := ParseGoogle(cloud)
	if err != nil {
		return nil, fmt.Errorf("cloud.json: %w", err)
	}
	var b netipx.IPSetBuilder
	for _, e := range g {
		b.AddPrefix(e.Prefix())
	}
	for _, e := range c {
		b.RemovePrefix(e.Prefix())
	}
	set, err := b.IPSet()
	if err != nil {
		return nil, perr("google", "", err)
	}
	ps := set.Prefixes()
	if len(ps) == 0 {
		return nil, perr("google", "", fmt.Errorf("%w: goog.json minus cloud.json is empty", ErrNoMatch))
	}
	out := make([]breakout.Entry, len(ps))
	for i, p := range ps {
		out[i] = breakout.PrefixEntry(p, 0)
	}
	return out, nil
}
