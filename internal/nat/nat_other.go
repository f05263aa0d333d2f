//go:build !linux

package nat

import "errors"

// System is the kernel; outside Linux every call fails.
type System struct{}

var _ Kernel = System{}

var errLinux = errors.New("nat needs Linux nftables")

func (System) Rules() ([]string, bool, error) { return nil, false, errLinux }
func (System) WriteTable(Desired) error       { return errLinux }
func (System) RemoveTable() error             { return errLinux }
func (System) Sysctl(string) (string, error)  { return "", errLinux }
func (System) SetSysctl(string, string) error { return errLinux }
