package feed

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// Defaults for zero fields of Limits. DefaultMaxBytes matches fetch's cap
// on a download and the config's max_feed_mb: the largest real feed, the
// full prefix-to-AS table, is about 20 MB unpacked. DefaultMaxEntries
// matches the config's max_entries: that table has a million rows.
const (
	DefaultMaxBytes   = 32 << 20
	DefaultMaxEntries = 2_000_000
)

// Limits bound what one feed may cost, whatever it holds: a few hundred
// kilobytes of gzip can unpack to gigabytes of one repeated line, and a
// line is 32 bytes of memory once parsed, and as much again on disk in the
// last-known-good store. Both limits are checked while reading, so a feed
// past them fails having cost no more than they allow.
type Limits struct {
	MaxBytes   int64 // the unpacked size of one body; 0: DefaultMaxBytes
	MaxEntries int   // entries a source may yield, duplicates included; 0: DefaultMaxEntries
}

func (l Limits) maxBytes() int64 {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

func (l Limits) maxEntries() int {
	if l.MaxEntries <= 0 {
		return DefaultMaxEntries
	}
	return l.MaxEntries
}

// tooMany is the error of the entry past the limit, at line n (0: no line).
func (l Limits) tooMany(format string, n int) error {
	where := ""
	if n > 0 {
		where = lineWhere(n)
	}
	return perr(format, where, fmt.Errorf("%w: more than %d (max_entries)", ErrTooMany, l.maxEntries()))
}

// check refuses a parsed set past the entry limit: formats that decode a
// whole document first (JSON, YAML) are bounded by MaxBytes while reading
// and counted here.
func (l Limits) check(format string, es []breakout.Entry) error {
	if len(es) > l.maxEntries() {
		return l.tooMany(format, 0)
	}
	return nil
}

// ReadAll reads r to the end, refusing more than max bytes (DefaultMaxBytes
// when max <= 0): an oversized body is an error, never silently truncated.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	return readAll(r, max, 0)
}

// readAll is ReadAll with a size hint: the buffer is made once for
// min(hint, max)+1 bytes, so a body costs its size, not the two or three
// times io.ReadAll's doubling would, and a lying hint costs no more than
// max. It stops as soon as max is passed.
func readAll(r io.Reader, max, hint int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	size := int64(bytes.MinRead)
	if hint > 0 {
		size = min(hint, max) + 1
	}
	b := make([]byte, 0, size)
	lr := io.LimitReader(r, max+1)
	for {
		if int64(len(b)) > max {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the growth
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// gzipMagic starts every gzip stream (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// maybeGunzip returns body unpacked if it is gzip'd (detected by its magic,
// since servers and file names do not reliably say so), else body itself. A
// truncated or corrupt stream is an error, and so is one that unpacks to
// more than max bytes (DefaultMaxBytes when max <= 0): it is refused as
// soon as the limit is passed, having cost about max bytes of memory.
func maybeGunzip(format string, body []byte, max int64) ([]byte, error) {
	if !bytes.HasPrefix(body, gzipMagic) {
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, perr(format, "gzip", malformed(err))
	}
	out, err := readAll(zr, max, gzipSize(body))
	if err != nil && !errors.Is(err, ErrTooLarge) {
		err = malformed(err) // truncated or corrupt stream
	}
	if err != nil {
		return nil, perr(format, "gzip", err)
	}
	return out, nil
}

// gzipSize is the unpacked size a gzip stream's trailer states (RFC 1952
// ISIZE, modulo 4 GiB): a hint only, the sender may lie.
func gzipSize(body []byte) int64 {
	if len(body) < 18 {
		return 0
	}
	return int64(binary.LittleEndian.Uint32(body[len(body)-4:]))
}
