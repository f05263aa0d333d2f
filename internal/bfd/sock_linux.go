//go:build linux

package bfd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Source ports for control packets (RFC 5881 §4).
const (
	srcPortMin = 49152
	srcPortMax = 65535
)

// tosCS6 marks control packets as network control, as BIRD and FRR do, so
// that they are not the first to be dropped on a congested uplink.
const tosCS6 = 0xc0

// listenUDP opens the port-3784 socket for one local address, bound to the
// tunnel interface, reporting each packet's TTL for the GTSM check.
// IP_MINTTL is set too, but Linux enforces it for TCP only, so the check
// in dispatch is what protects the session.
func listenUDP(local netip.Addr, iface string) (rxConn, error) {
	lc := net.ListenConfig{Control: sockopts(iface, local.Is6(), setMinTTL)}
	pc, err := lc.ListenPacket(context.Background(), network(local), addrPort(local, Port, iface).String())
	if err != nil {
		return nil, fmt.Errorf("listen bfd on %s: %w", local, err)
	}
	if local.Is4() {
		c := ipv4.NewPacketConn(pc)
		err = c.SetControlMessage(ipv4.FlagTTL, true)
		return conn4{c}, closeOnErr(pc, err)
	}
	c := ipv6.NewPacketConn(pc)
	err = c.SetControlMessage(ipv6.FlagHopLimit, true)
	return conn6{c}, closeOnErr(pc, err)
}

func closeOnErr(c net.PacketConn, err error) error {
	if err != nil {
		c.Close()
		return fmt.Errorf("enable ttl control messages: %w", err)
	}
	return nil
}

// dialUDP opens the session's sending socket: a random source port that
// stays fixed for the session's life, TTL 255, bound to the interface.
func dialUDP(local, peer netip.Addr, iface string) (txConn, error) {
	var err error
	for range 64 {
		port := uint16(srcPortMin + rand.IntN(srcPortMax-srcPortMin+1))
		d := net.Dialer{
			LocalAddr: net.UDPAddrFromAddrPort(addrPort(local, port, iface)),
			Control:   sockopts(iface, local.Is6(), setTxTTL),
		}
		var c net.Conn
		c, err = d.Dial(network(local), addrPort(peer, Port, iface).String())
		if err == nil {
			return retryRefused{c}, nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("open bfd socket %s to %s: %w", local, peer, err)
}

// retryRefused resends once when a write reports ECONNREFUSED: on a
// connected UDP socket that error belongs to an earlier packet (an ICMP
// port unreachable from a peer not yet listening), and the kernel drops the
// current one. Losing it would delay bring-up by a whole slow interval.
type retryRefused struct{ net.Conn }

func (c retryRefused) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if errors.Is(err, unix.ECONNREFUSED) {
		return c.Conn.Write(b)
	}
	return n, err
}

func network(a netip.Addr) string {
	if a.Is4() {
		return "udp4"
	}
	return "udp6"
}

// addrPort adds the interface as zone to link-local addresses, which mean
// nothing without one.
func addrPort(a netip.Addr, port uint16, iface string) netip.AddrPort {
	if a.Is6() && a.IsLinkLocalUnicast() && iface != "" {
		a = a.WithZone(iface)
	}
	return netip.AddrPortFrom(a, port)
}

// sockopts binds to the interface before bind(2) and applies ttl.
func sockopts(iface string, v6 bool, ttl func(fd int, v6 bool) error) func(string, string, syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) {
			if iface != "" {
				err = unix.BindToDevice(int(fd), iface)
			}
			err = errors.Join(err, ttl(int(fd), v6))
		})
		return errors.Join(cerr, err)
	}
}

func setMinTTL(fd int, v6 bool) error {
	if v6 {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MINHOPCOUNT, ttlGTSM)
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MINTTL, ttlGTSM)
}

func setTxTTL(fd int, v6 bool) error {
	if v6 {
		return errors.Join(
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttlGTSM),
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tosCS6))
	}
	return errors.Join(
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttlGTSM),
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tosCS6))
}

type conn4 struct{ c *ipv4.PacketConn }

func (c conn4) ReadFrom(b []byte) (int, int, netip.Addr, error) {
	n, cm, src, err := c.c.ReadFrom(b)
	ttl := -1
	if cm != nil {
		ttl = cm.TTL
	}
	return n, ttl, udpAddr(src), err
}

func (c conn4) Close() error { return c.c.Close() }

type conn6 struct{ c *ipv6.PacketConn }

func (c conn6) ReadFrom(b []byte) (int, int, netip.Addr, error) {
	n, cm, src, err := c.c.ReadFrom(b)
	ttl := -1
	if cm != nil {
		ttl = cm.HopLimit
	}
	return n, ttl, udpAddr(src), err
}

func (c conn6) Close() error { return c.c.Close() }

// udpAddr drops the zone: sessions are keyed by address and interface.
func udpAddr(a net.Addr) netip.Addr {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.Addr{}
	}
	return u.AddrPort().Addr().Unmap().WithZone("")
}
