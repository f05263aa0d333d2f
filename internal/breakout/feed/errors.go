package feed

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is through a *ParseError.
var (
	ErrEmpty     = errors.New("empty feed")
	ErrNoMatch   = errors.New("no prefixes selected")
	ErrTooLarge  = errors.New("feed exceeds size limit")
	ErrTooMany   = errors.New("feed has too many entries")
	ErrMalformed = errors.New("malformed feed")
)

// ParseError says which feed format failed and where: a line number for text
// formats, a JSON path (or line:column of a syntax error) for JSON.
type ParseError struct {
	Format string // aws, google, prefixlist, pfx2as, ...
	Where  string // "line 12", "$.prefixes[3].ip_prefix", "" for the whole body
	Err    error
}

func (e *ParseError) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("parse %s: %v", e.Format, e.Err)
	}
	return fmt.Sprintf("parse %s: %s: %v", e.Format, e.Where, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

func perr(format, where string, err error) error {
	return &ParseError{Format: format, Where: where, Err: err}
}

func lineWhere(n int) string { return fmt.Sprintf("line %d", n) }

// malformedError carries a message for a malformed feed; it matches
// ErrMalformed without repeating "malformed feed" in every message.
type malformedError struct{ err error }

func (e malformedError) Error() string        { return e.err.Error() }
func (e malformedError) Unwrap() error        { return e.err }
func (e malformedError) Is(target error) bool { return target == ErrMalformed }

func malformed(err error) error { return malformedError{err} }

func malformedf(format string, args ...any) error {
	return malformedError{fmt.Errorf(format, args...)}
}
