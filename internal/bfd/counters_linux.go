//go:build linux

package bfd

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// linkCounters reads a tunnel interface's packet counters, which count
// inner packets alike for kernel WireGuard and a wireguard-go TUN device:
// one RTM_GETLINK by index on a netlink socket of the session's namespace,
// the cheapest source both have (wgctrl's per-peer bytes cost a UAPI round
// trip on wireguard-go).
type linkCounters struct {
	h     *netlink.Handle
	index int
}

var _ TrafficSource = (*linkCounters)(nil)

// openCounters opens the counters of iface in the network namespace of
// the calling thread.
func openCounters(iface string) (TrafficSource, error) {
	h, err := netlink.NewHandle(netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink for %s counters: %w", iface, err)
	}
	l, err := h.LinkByName(iface)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("find tunnel %s: %w", iface, err)
	}
	return &linkCounters{h: h, index: l.Attrs().Index}, nil
}

func (c *linkCounters) Read() (Traffic, error) {
	l, err := c.h.LinkByIndex(c.index)
	if err != nil {
		return Traffic{}, fmt.Errorf("read tunnel counters: %w", err)
	}
	st := l.Attrs().Statistics
	if st == nil {
		return Traffic{}, fmt.Errorf("read tunnel counters of %s: none reported", l.Attrs().Name)
	}
	return Traffic{RxPackets: st.RxPackets, TxPackets: st.TxPackets}, nil
}

func (c *linkCounters) Close() error {
	c.h.Close()
	return nil
}
