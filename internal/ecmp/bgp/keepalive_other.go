//go:build !linux

package bgp

import "net/netip"

// quietKeepalives is Linux's alone (it reads /proc/self/fd); elsewhere the
// sessions keep Go's TCP keep-alive.
func quietKeepalives(netip.Addr, int, int) (int, error) { return 0, nil }
