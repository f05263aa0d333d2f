//go:build !linux

package engine

import (
	"net/netip"

	"github.com/uplinkd/uplinkd/internal/fib"
)

func newICMPProber(gw netip.Addr, iface string) (prober, error) { return nil, fib.ErrUnsupported }
