package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a configuration file, at the position a user
// would go to fix it.
type Error struct {
	File string
	Line int // 1-based
	Col  int // 1-based, in bytes, as the TOML parser counts
	Msg  string
}

// Error formats the problem as FILE:LINE:COL: message, which editors and
// terminals turn into a link to the spot.
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// ErrorList is every problem found in one file, sorted by position. A bad
// file is reported whole so that one edit round fixes it.
type ErrorList []*Error

// Error returns one line per problem.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find an individual *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sorted orders the list by position and drops exact duplicates, which
// arise when two checks trip over the same key.
func (l ErrorList) sorted() ErrorList {
	s := slices.Clone(l)
	slices.SortStableFunc(s, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return slices.CompactFunc(s, func(a, b *Error) bool { return *a == *b })
}

// err returns the list as an error, or nil when it is empty; a nil
// ErrorList in an error interface would not compare equal to nil.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l.sorted()
}
