//go:build !linux

package nat

import (
	"errors"
	"net/netip"
)

// Desired is the hub's NAT: sources masqueraded when leaving Out.
type Desired struct {
	Out     string
	Sources []netip.Prefix
}

var errLinux = errors.New("nat needs Linux nftables")

// Apply needs Linux.
func Apply(Desired) (bool, error) { return false, errLinux }

// Remove needs Linux.
func Remove() error { return errLinux }

// Forwarding needs Linux.
func Forwarding() ([]string, error) { return nil, errLinux }
