package feed

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxBytes caps a feed body (after decompression): the largest real
// feed, a full prefix-to-AS table, is about 25 MB unpacked.
const DefaultMaxBytes = 256 << 20

// ReadAll reads r to the end, refusing more than max bytes (DefaultMaxBytes
// when max <= 0): an oversized body is an error, never silently truncated.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return b, nil
}

// gzipMagic starts every gzip stream (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// maybeGunzip returns body unpacked if it is gzip'd (detected by its magic,
// since servers and file names do not reliably say so), else body itself. A
// truncated or corrupt stream is an error.
func maybeGunzip(format string, body []byte, max int64) ([]byte, error) {
	if !bytes.HasPrefix(body, gzipMagic) {
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, perr(format, "gzip", malformed(err))
	}
	out, err := ReadAll(zr, max)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		err = malformed(err) // truncated or corrupt stream
	}
	if err != nil {
		return nil, perr(format, "gzip", err)
	}
	return out, nil
}
