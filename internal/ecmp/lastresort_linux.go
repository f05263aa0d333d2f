package ecmp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/fib"
)

// lastResortHops resolves the last resort's next hop per family (true:
// IPv4): its interface's index and its gateway, the carrier's learned
// from its pin table when not configured. A family that cannot be
// resolved is left out and the reason returned.
func lastResortHops(lr *LastResort) (map[bool]fib.WeightedNexthop, error) {
	if lr == nil {
		return nil, nil
	}
	out := map[bool]fib.WeightedNexthop{}
	var errs []error
	gw4 := lr.Gateway4
	if !gw4.IsValid() && lr.Table != 0 {
		var err error
		if gw4, err = tableGateway(lr.Table); err != nil {
			errs = append(errs, err)
		}
	}
	for is4, gw := range map[bool]netip.Addr{true: gw4, false: lr.Gateway6} {
		if !gw.IsValid() {
			continue
		}
		idx, err := hopLink(lr.Interface, gw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[is4] = fib.WeightedNexthop{Gateway: gw, LinkIndex: idx, Weight: 1}
	}
	return out, errors.Join(errs...)
}

// hopLink is the index of the interface a gateway is reached by: the one
// named, or the kernel's answer for the gateway.
func hopLink(ifname string, gw netip.Addr) (int, error) {
	if ifname != "" {
		l, err := netlink.LinkByName(ifname)
		if err != nil {
			return 0, fmt.Errorf("last resort interface %s: %w", ifname, err)
		}
		return l.Attrs().Index, nil
	}
	rs, err := netlink.RouteGet(net.IP(gw.AsSlice()))
	if err != nil || len(rs) == 0 {
		return 0, fmt.Errorf("last resort gateway %s: no route (%v)", gw, err)
	}
	return rs[0].LinkIndex, nil
}

// tableGateway reads the gateway of a carrier's default route from its
// pin table, where the tunnels' pinning keeps it.
func tableGateway(table int) (netip.Addr, error) {
	rs, err := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("last resort: read table %d: %w", table, err)
	}
	for _, r := range rs {
		if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw != nil {
			if a, ok := netip.AddrFromSlice(r.Gw); ok {
				return a.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("last resort: no carrier gateway in table %d yet", table)
}

// noteLastResort records and logs the last resort taking over or handing
// back the default routes. Called with c.mu held.
func (c *Controller) noteLastResort(used []netip.Prefix, now time.Time) {
	active := len(used) > 0
	if c.lrActive == active && len(used) == len(c.lrPrefixes) {
		return
	}
	c.lrActive, c.lrSince, c.lrPrefixes = active, now, used
	if active {
		c.log.Warn("last resort active: no tunnel carries the default route", "via", c.plan.LastResort.Via, "prefixes", fmt.Sprint(used))
	} else if c.plan.LastResort != nil {
		c.log.Info("last resort inactive: tunnels carry the default routes again", "via", c.plan.LastResort.Via)
		go c.endStranded(c.lrHops, c.plan.LastResort.Via)
	}
}

// endStranded makes the connections opened through the last resort fail
// now that the tunnels carry the default (see dropStranded).
func (c *Controller) endStranded(hops map[bool]fib.WeightedNexthop, via string) {
	done := map[int]bool{}
	for _, h := range hops {
		if done[h.LinkIndex] {
			continue
		}
		done[h.LinkIndex] = true
		n, err := dropStranded(h.LinkIndex)
		if n.sockets+n.flows > 0 || err != nil {
			c.log.Info("connections opened through the last resort ended, to be opened again through the tunnels",
				"via", via, "local_sockets", n.sockets, "forwarded_flows", n.flows, "err", err)
		}
	}
}
