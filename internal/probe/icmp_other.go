//go:build !linux

package probe

import (
	"errors"
	"net/netip"
)

// NewICMP is Linux only.
func NewICMP(netip.Addr, string) (Prober, error) {
	return nil, errors.New("icmp probes are linux only")
}
