//go:build !linux

package budget

import "errors"

// Netlink needs Linux.
type Netlink struct{}

// Read needs Linux.
func (Netlink) Read(string) (Sample, error) {
	return Sample{}, errors.New("interface counters need Linux")
}

// BootID is unknown outside Linux.
func BootID() string { return "" }
