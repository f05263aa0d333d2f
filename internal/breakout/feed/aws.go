package feed

import (
	"errors"
	"fmt"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// AWSFilter selects entries of ip-ranges.json. Matching is exact: AWS lists
// the same prefix under AMAZON and under EC2, and "EC2" must not pull in
// every AMAZON range. Empty lists select everything.
type AWSFilter struct {
	Services            []string // e.g. EC2, S3, CLOUDFRONT, GLOBALACCELERATOR
	Regions             []string // e.g. ap-northeast-1, GLOBAL
	NetworkBorderGroups []string
}

type awsFile struct {
	SyncToken    string       `json:"syncToken"`
	CreateDate   string       `json:"createDate"`
	Prefixes     *[]awsPrefix `json:"prefixes"`
	IPv6Prefixes *[]awsPrefix `json:"ipv6_prefixes"`
}

type awsPrefix struct {
	IPPrefix           string `json:"ip_prefix"`
	IPv6Prefix         string `json:"ipv6_prefix"`
	Region             string `json:"region"`
	Service            string `json:"service"`
	NetworkBorderGroup string `json:"network_border_group"`
}

// ParseAWS parses AWS ip-ranges.json (IPv4 "prefixes" and IPv6
// "ipv6_prefixes") and returns the entries f selects.
func ParseAWS(body []byte, f AWSFilter) ([]breakout.Entry, error) {
	const format = "aws"
	var file awsFile
	if err := decodeJSON(format, body, &file); err != nil {
		return nil, err
	}
	if err := file.check(); err != nil {
		return nil, perr(format, "", err)
	}
	sel := awsSelector{newMatch("service", f.Services), newMatch("region", f.Regions), newMatch("network_border_group", f.NetworkBorderGroups)}
	out, err := sel.collect(nil, "prefixes", *file.Prefixes, false)
	if err != nil {
		return nil, err
	}
	if out, err = sel.collect(out, "ipv6_prefixes", *file.IPv6Prefixes, true); err != nil {
		return nil, err
	}
	if err := errors.Join(sel.svc.missing(), sel.reg.missing(), sel.nbg.missing()); err != nil {
		return nil, perr(format, "", err)
	}
	if len(out) == 0 {
		return nil, perr(format, "", ErrNoMatch)
	}
	return out, nil
}

// check refuses a body that is valid JSON but not an ip-ranges file (an
// error document, "{}", a file cut before the lists).
func (f awsFile) check() error {
	switch {
	case f.SyncToken == "":
		return malformedf("no syncToken")
	case f.Prefixes == nil:
		return malformedf("no prefixes key")
	case f.IPv6Prefixes == nil:
		return malformedf("no ipv6_prefixes key")
	case len(*f.Prefixes)+len(*f.IPv6Prefixes) == 0:
		return ErrEmpty
	}
	return nil
}

type awsSelector struct{ svc, reg, nbg *match }

func (s awsSelector) collect(out []breakout.Entry, key string, ps []awsPrefix, v6 bool) ([]breakout.Entry, error) {
	for i, p := range ps {
		e, err := p.entry(v6)
		if err != nil {
			return nil, perr("aws", fmt.Sprintf("$.%s[%d]", key, i), malformed(err))
		}
		// Evaluate all three so every value counts as seen for missing().
		a, b, c := s.svc.ok(p.Service), s.reg.ok(p.Region), s.nbg.ok(p.NetworkBorderGroup)
		if a && b && c {
			out = append(out, e)
		}
	}
	return out, nil
}

// entry checks one record; errors name the field, the caller the record.
func (p awsPrefix) entry(v6 bool) (breakout.Entry, error) {
	field, s := "ip_prefix", p.IPPrefix
	if v6 {
		field, s = "ipv6_prefix", p.IPv6Prefix
	}
	pfx, err := parsePrefix(s, false)
	if err != nil {
		return breakout.Entry{}, fmt.Errorf("%s: %w", field, err)
	}
	if pfx.Addr().Is6() != v6 {
		return breakout.Entry{}, fmt.Errorf("%s: %s is the wrong address family", field, pfx)
	}
	if p.Service == "" || p.Region == "" {
		return breakout.Entry{}, fmt.Errorf("missing service or region")
	}
	return breakout.NewEntry(pfx, 0, breakout.Attrs{Service: p.Service, Region: p.Region, NetworkBorderGroup: p.NetworkBorderGroup}), nil
}
