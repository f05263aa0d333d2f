package feed

import (
	"bytes"
	"fmt"
	"strconv"
)

// asnSet is the set of wanted origin ASNs; empty wants every origin.
type asnSet map[uint32]bool

func newASNSet(asns []uint32) asnSet {
	s := asnSet{}
	for _, a := range asns {
		s[a] = true
	}
	return s
}

// pick parses an origin field and returns the ASN the entry is recorded
// under: the first wanted origin, or the first origin when all are wanted.
// The field is one ASN, "a_b" for a multi-origin prefix (MOAS) or "a,b" for
// an AS-set, or both ("209_3356,6223"): a prefix is wanted when any listed
// origin is.
func (s asnSet) pick(field []byte) (asn uint32, ok bool, err error) {
	first := true
	for len(field) > 0 {
		i := bytes.IndexAny(field, "_,")
		tok := field
		if i >= 0 {
			tok, field = field[:i], field[i+1:]
			if len(field) == 0 {
				return 0, false, fmt.Errorf("origin ends in a separator")
			}
		} else {
			field = nil
		}
		a, err := parseASN(tok)
		if err != nil {
			return 0, false, err
		}
		if first && len(s) == 0 {
			return a, true, nil
		}
		first = false
		if s[a] {
			return a, true, nil
		}
	}
	if first {
		return 0, false, fmt.Errorf("empty origin")
	}
	return 0, false, nil
}

// parseASN parses a decimal ASN without allocating: a million rows are
// parsed per table.
func parseASN(b []byte) (uint32, error) {
	if len(b) == 0 || len(b) > 10 {
		return 0, fmt.Errorf("invalid origin ASN %q", b)
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("invalid origin ASN %q", b)
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-1 {
		return 0, fmt.Errorf("origin ASN %q out of range", b)
	}
	return uint32(n), nil
}

func parseBits(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 || n > 128 {
		return 0, fmt.Errorf("invalid prefix length %q", b)
	}
	return n, nil
}

// fields splits a line on tabs or runs of spaces, reusing dst.
func fields(line []byte, dst [][]byte) [][]byte {
	dst = dst[:0]
	for len(line) > 0 {
		i := bytes.IndexAny(line, "\t ")
		if i < 0 {
			return append(dst, line)
		}
		if i > 0 {
			dst = append(dst, line[:i])
		}
		line = line[i+1:]
	}
	return dst
}
