package feed

import (
	"bytes"
	"fmt"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// ParsePrefixList parses a plain list: one prefix or bare address per line
// (an address becomes a /32 or /128), "#" comments (whole-line or trailing),
// blank lines, with or without a final newline. It reads Cloudflare's
// ips-v4/ips-v6, ipverse per-ASN lists and user "url" lists. Each entry is a
// copy of tmpl with the prefix set. A gzip'd body is unpacked first.
func ParsePrefixList(body []byte, tmpl breakout.Entry) ([]breakout.Entry, error) {
	return parsePrefixList(body, tmpl, Limits{})
}

func parsePrefixList(body []byte, tmpl breakout.Entry, lim Limits) ([]breakout.Entry, error) {
	const format = "prefixlist"
	body, err := maybeGunzip(format, body, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, perr(format, "", ErrEmpty)
	}
	// Sized once: regrowing a million-entry slice costs twice its size.
	// But never past the limit: a line costs 11 bytes and its entry 32.
	max := lim.maxEntries()
	out := make([]breakout.Entry, 0, min(bytes.Count(body, []byte{'\n'})+1, max))
	err = eachLine(body, "#", func(n int, line []byte) error {
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = bytes.TrimSpace(line[:i])
		}
		p, err := parsePrefix(string(line), true)
		if err != nil {
			return perr(format, lineWhere(n), malformedf("%v", err))
		}
		if len(out) == max {
			return lim.tooMany(format, n)
		}
		e := tmpl
		e.SetPrefix(p)
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, perr(format, "", fmt.Errorf("%w: only comments", ErrEmpty))
	}
	return out, nil
}
