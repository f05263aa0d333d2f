package feed

import (
	"bytes"
	"net/netip"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// ParsePrefixOrigin parses "prefix<TAB>origin" tables: pyasn's IPASN .dat
// files (";" comment header) and per-ASN extracts of prefix2as ("#"
// comments). The origin may be MOAS or an AS-set as in ParsePfx2as. It
// returns the prefixes originated by any of asns, or all when asns is empty.
func ParsePrefixOrigin(body []byte, asns []uint32) ([]breakout.Entry, error) {
	return parsePrefixOrigin(body, asns, Limits{})
}

func parsePrefixOrigin(body []byte, asns []uint32, lim Limits) ([]breakout.Entry, error) {
	const format = "prefix-origin"
	body, err := tableBody(format, body, lim)
	if err != nil {
		return nil, err
	}
	want := newASNSet(asns)
	max := lim.maxEntries()
	var out []breakout.Entry
	var f [][]byte
	err = eachLine(body, ";#", func(n int, line []byte) error {
		f = fields(line, f)
		if len(f) != 2 {
			return perr(format, lineWhere(n), malformedf("want 2 fields (prefix, origin), got %d", len(f)))
		}
		asn, ok, err := want.pick(f[1])
		if err == nil && ok {
			var p netip.Prefix
			if p, err = parsePrefix(string(f[0]), false); err == nil {
				e := breakout.PrefixEntry(p, asn)
				if len(out) == max {
					return lim.tooMany(format, n)
				}
				out = append(out, e)
			}
		}
		if err != nil {
			return perr(format, lineWhere(n), malformedf("%v", err))
		}
		return nil
	})
	return finishASN(format, out, asns, err)
}

// tableBody unpacks a gzip'd table and refuses an empty one: an empty feed
// must not read as "this AS announces nothing".
func tableBody(format string, body []byte, lim Limits) ([]byte, error) {
	body, err := maybeGunzip(format, body, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, perr(format, "", ErrEmpty)
	}
	return body, nil
}
