//go:build !linux

package bfd

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sessions need SO_BINDTODEVICE and TTL control messages; elsewhere the
// package builds (for go vet ./...) but refuses to open sockets.
func listenUDP(local netip.Addr, iface string) (rxConn, error) {
	return nil, fmt.Errorf("listen bfd on %s: %w", local, errors.ErrUnsupported)
}

func dialUDP(local, peer netip.Addr, iface string) (txConn, error) {
	return nil, fmt.Errorf("open bfd socket %s to %s: %w", local, peer, errors.ErrUnsupported)
}

func openCounters(iface string) (TrafficSource, error) {
	return nil, fmt.Errorf("open counters of %s: %w", iface, errors.ErrUnsupported)
}
