package fib

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// maxReported bounds how many failed items a BatchError keeps.
const maxReported = 5

// ItemError is the kernel's answer to one failed message of a batch.
type ItemError struct {
	// Index is the item's position in the caller's list.
	Index int
	// Object names what the message was about, e.g. "198.51.100.0/24 via 10.0.0.9".
	Object string
	Err    error
	// Msg is the kernel's extended ack text, if any.
	Msg string
}

// Error names the object, the errno and the kernel's reason.
func (e ItemError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("%s: %v (%s)", e.Object, e.Err, e.Msg)
	}
	return fmt.Sprintf("%s: %v", e.Object, e.Err)
}

// Unwrap returns the errno, for errors.Is.
func (e ItemError) Unwrap() error { return e.Err }

// BatchError reports that some messages of a batch failed: how many, and the
// first few in the caller's order. The others landed, so callers can retry
// or roll back knowingly.
type BatchError struct {
	Op     string
	Total  int
	Failed int
	First  []ItemError // sorted by Index
}

// Error says how many failed and lists the first few.
func (e *BatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d failed", e.Op, e.Failed, e.Total)
	for i, ie := range e.First {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + ie.Error())
	}
	if e.Failed > len(e.First) {
		fmt.Fprintf(&b, ", and %d more", e.Failed-len(e.First))
	}
	return b.String()
}

// Unwrap lets errors.Is find the kernel's errno (e.g. unix.ENETUNREACH).
func (e *BatchError) Unwrap() []error {
	errs := make([]error, len(e.First))
	for i := range e.First {
		errs[i] = e.First[i]
	}
	return errs
}

// add records the failure of item i, keeping in full only the few with
// the lowest indexes: messages go out in spread order, reports should not.
func (e *BatchError) add(i int, ie ItemError) {
	e.Failed++
	ie.Index = i
	pos, _ := slices.BinarySearchFunc(e.First, i, func(x ItemError, i int) int { return cmp.Compare(x.Index, i) })
	if pos >= maxReported {
		return
	}
	e.First = slices.Insert(e.First, pos, ie)
	if len(e.First) > maxReported {
		e.First = e.First[:maxReported]
	}
}

// errOrNil returns e only if something failed, so callers never see a typed nil.
func (e *BatchError) errOrNil() error {
	if e.Failed == 0 {
		return nil
	}
	return e
}
