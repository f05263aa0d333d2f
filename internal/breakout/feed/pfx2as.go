package feed

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// ParsePfx2as parses CAIDA's RouteViews prefix-to-AS table (lines
// "network<TAB>length<TAB>origin", gzip'd or not) and returns the prefixes
// originated by any of asns, or the whole table when asns is empty.
func ParsePfx2as(body []byte, asns []uint32) ([]breakout.Entry, error) {
	return parsePfx2as(body, asns, Limits{})
}

func parsePfx2as(body []byte, asns []uint32, lim Limits) ([]breakout.Entry, error) {
	const format = "pfx2as"
	body, err := tableBody(format, body, lim)
	if err != nil {
		return nil, err
	}
	want := newASNSet(asns)
	max := lim.maxEntries()
	var out []breakout.Entry
	if len(want) == 0 {
		// About 21 bytes a row; sizing once saves a dozen regrowths.
		out = make([]breakout.Entry, 0, min(len(body)/20, max))
	}
	var f [][]byte
	err = eachLine(body, "#", func(n int, line []byte) error {
		f = tabFields(line, f)
		if len(f) != 3 {
			return perr(format, lineWhere(n), malformedf("want 3 fields (network, length, origin), got %d", len(f)))
		}
		asn, ok, err := want.pick(f[2])
		if err == nil && ok {
			var p netip.Prefix
			if p, err = pfx2asPrefix(f[0], f[1]); err == nil {
				if len(out) == max {
					return lim.tooMany(format, n)
				}
				out = append(out, breakout.PrefixEntry(p, asn))
			}
		}
		if err != nil {
			return perr(format, lineWhere(n), malformedf("%v", err))
		}
		return nil
	})
	return finishASN(format, out, asns, err)
}

// tabFields splits a TSV line; lines without tabs fall back to blanks.
func tabFields(line []byte, dst [][]byte) [][]byte {
	if bytes.IndexByte(line, '\t') < 0 {
		return fields(line, dst)
	}
	dst = dst[:0]
	for {
		i := bytes.IndexByte(line, '\t')
		if i < 0 {
			return append(dst, line)
		}
		dst = append(dst, line[:i])
		line = line[i+1:]
	}
}

func pfx2asPrefix(network, length []byte) (netip.Prefix, error) {
	a, ok := parseIPv4(network)
	if !ok {
		var err error
		if a, err = netip.ParseAddr(string(network)); err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid network %q", network)
		}
	}
	bits, err := parseBits(length)
	if err != nil {
		return netip.Prefix{}, err
	}
	p, err := a.Prefix(bits)
	if err != nil || p.Addr() != a {
		return netip.Prefix{}, fmt.Errorf("invalid prefix %s/%d", a, bits)
	}
	return p, nil
}

// finishASN turns a silent empty selection into an error: an ASN that
// originates nothing in the table is a typo or a broken table.
func finishASN(format string, out []breakout.Entry, asns []uint32, err error) ([]breakout.Entry, error) {
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, perr(format, "", fmt.Errorf("%w: no prefix originated by %v", ErrNoMatch, asns))
	}
	return out, nil
}

// parseIPv4 parses a dotted quad without allocating (netip.ParseAddr needs
// a string, one allocation per row of a million-row table). It accepts
// exactly what netip accepts for IPv4 and reports false for anything else,
// IPv6 included, which the caller then hands to netip.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var a [4]byte
	i, n, digits := 0, 0, 0
	for _, c := range b {
		switch {
		case c == '.':
			if digits == 0 || i == 3 {
				return netip.Addr{}, false
			}
			a[i], i, n, digits = byte(n), i+1, 0, 0
		case c >= '0' && c <= '9':
			if digits > 0 && n == 0 { // leading zero
				return netip.Addr{}, false
			}
			n, digits = n*10+int(c-'0'), digits+1
			if n > 255 {
				return netip.Addr{}, false
			}
		default:
			return netip.Addr{}, false
		}
	}
	if i != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	a[3] = byte(n)
	return netip.AddrFrom4(a), true
}
