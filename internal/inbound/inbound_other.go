//go:build !linux

package inbound

import "errors"

var errNotLinux = errors.New("inbound: nftables needs Linux")

// Apply is Linux only.
func Apply(Desired) (bool, error) { return false, errNotLinux }

// Remove is Linux only.
func Remove() error { return nil }

// Counts are the table's counters (Linux only).
type Counts struct {
	Connections map[string]uint64
	Dropped     uint64
}

// ReadCounts is Linux only.
func ReadCounts() (Counts, error) { return Counts{}, errNotLinux }
