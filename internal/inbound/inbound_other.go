//go:build !linux

package inbound

import "errors"

var errNotLinux = errors.New("inbound: nftables needs Linux")

// Apply is Linux only.
func Apply(Desired) (bool, error) { return false, errNotLinux }

// Remove is Linux only.
func Remove() error { return nil }
