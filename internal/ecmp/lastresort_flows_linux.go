package ecmp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// When the tunnels take the default back from the last resort, every
// connection opened meanwhile still has the last resort's address as its
// source: the daemon's own (a feed fetch) chose it, and the LAN's were
// masqueraded to it. Their packets now leave by a tunnel with that source,
// which the hub drops, and they hang until they time out (a feed fetch:
// 30 s and the engine's back-off). dropStranded makes them fail at once,
// so that they are opened again through the tunnels: the daemon's TCP
// sockets with that source are destroyed (SOCK_DESTROY), and the
// conntrack entries of the LAN's flows masqueraded to it are deleted (the
// next packet goes out unmasqueraded and the far end answers it with a
// reset). Connections whose destination still routes by the last
// resort's interface (breakout prefixes through the 5G router) are left
// alone.

// stranded is what dropStranded made fail.
type stranded struct{ sockets, flows int }

// dropStranded ends the connections through the last resort's interface
// (index ifindex) whose destination no longer routes by it.
func dropStranded(ifindex int) (stranded, error) {
	link, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return stranded{}, fmt.Errorf("last resort interface %d: %w", ifindex, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return stranded{}, fmt.Errorf("addresses of %s: %w", link.Attrs().Name, err)
	}
	src := map[netip.Addr]bool{}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			src[ip.Unmap()] = true
		}
	}
	moved := routesAway(ifindex)
	var out stranded
	var errs []error
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		n, err := destroySockets(fam, src, moved)
		out.sockets += n
		errs = append(errs, err)
		m, err := deleteFlows(fam, src, moved)
		out.flows += m
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// routesAway returns a check, cached by destination, of whether a
// destination routes by another interface than ifindex now.
func routesAway(ifindex int) func(netip.Addr) bool {
	seen := map[netip.Addr]bool{}
	return func(dst netip.Addr) bool {
		if away, ok := seen[dst]; ok {
			return away
		}
		rs, err := netlink.RouteGet(net.IP(dst.AsSlice()))
		away := err == nil && len(rs) > 0 && rs[0].LinkIndex != ifindex
		seen[dst] = away
		return away
	}
}

// destroySockets destroys this namespace's established TCP sockets whose
// source is one of src and whose destination routes away.
func destroySockets(family uint8, src map[netip.Addr]bool, away func(netip.Addr) bool) (int, error) {
	socks, err := netlink.SocketDiagTCP(family)
	if err != nil {
		return 0, fmt.Errorf("list tcp sockets: %w", err)
	}
	n := 0
	for _, s := range socks {
		local, lok := netip.AddrFromSlice(s.ID.Source)
		remote, rok := netip.AddrFromSlice(s.ID.Destination)
		if !lok || !rok || s.State != netlink.TCP_ESTABLISHED || !src[local.Unmap()] || !away(remote.Unmap()) {
			continue
		}
		l := &net.TCPAddr{IP: s.ID.Source, Port: int(s.ID.SourcePort)}
		r := &net.TCPAddr{IP: s.ID.Destination, Port: int(s.ID.DestinationPort)}
		if err := netlink.SocketDestroy(l, r); err != nil {
			return n, fmt.Errorf("destroy tcp %s → %s: %w", l, r, err)
		}
		n++
	}
	return n, nil
}

// deleteFlows deletes the conntrack entries masqueraded to one of src
// (their reply goes to it) whose original destination routes away.
func deleteFlows(family uint8, src map[netip.Addr]bool, away func(netip.Addr) bool) (int, error) {
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, netlink.InetFamily(family), strandedFlows{src, away})
	if err != nil {
		return int(n), fmt.Errorf("delete conntrack entries: %w", err)
	}
	return int(n), nil
}

// strandedFlows matches a forwarded flow masqueraded to a last resort
// address whose destination routes away now.
type strandedFlows struct {
	src  map[netip.Addr]bool
	away func(netip.Addr) bool
}

func (f strandedFlows) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	natted, ok1 := netip.AddrFromSlice(flow.Reverse.DstIP)
	orig, ok2 := netip.AddrFromSlice(flow.Forward.SrcIP)
	dst, ok3 := netip.AddrFromSlice(flow.Forward.DstIP)
	if !ok1 || !ok2 || !ok3 || natted.Unmap() == orig.Unmap() {
		return false // not masqueraded: not the LAN's through the last resort
	}
	return f.src[natted.Unmap()] && f.away(dst.Unmap())
}
