//go:build !linux

package nat

import (
	"errors"
	"net/netip"
)

// Desired is a site's source NAT.
type Desired []Masquerade

// Masquerade rewrites Sources to Out's address on the way out of Out.
type Masquerade struct {
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
