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
	lc := net.ListenConfig{Control: sockopts(iface, local.Is6(), setRx)}
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
// It is not connected: connect(2) would need a route to the peer at Add
// time and would turn an ICMP error for one packet into the loss of the
// next.
func dialUDP(local, peer netip.Addr, iface string) (txConn, error) {
	var err error
	for range 64 {
		port := uint16(srcPortMin + rand.IntN(srcPortMax-srcPortMin+1))
		lc := net.ListenConfig{Control: sockopts(iface, local.Is6(), setTx)}
		var pc net.PacketConn
		pc, err = lc.ListenPacket(context.Background(), network(local), addrPort(local, port, iface).String())
		if err == nil {
			return sender{pc.(*net.UDPConn), addrPort(peer, Port, iface)}, nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("open bfd socket %s to %s: %w", local, peer, err)
}

// sender writes every packet to the peer's control port.
type sender struct {
	c  *net.UDPConn
	to netip.AddrPort
}

func (s sender) Write(b []byte) (int, error) { return s.c.WriteToUDPAddrPort(b, s.to) }
func (s sender) Close() error                { return s.c.Close() }

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
// IP_FREEBIND lets a session start before its tunnel address is usable: a
// fresh IPv6 address is tentative for a while, and the daemon need not
// order BFD after address configuration.
func sockopts(iface string, v6 bool, ttl func(fd int, v6 bool) error) func(string, string, syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) {
			if iface != "" {
				err = unix.BindToDevice(int(fd), iface)
			}
			err = errors.Join(err, unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1), ttl(int(fd), v6))
		})
		return errors.Join(cerr, err)
	}
}

// setRx asks for the TTL of every packet before bind(2): a packet queued
// before the option is set carries none and would be dropped as off-link,
// costing a whole slow interval at start.
func setRx(fd int, v6 bool) error {
	if v6 {
		return errors.Join(
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1),
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MINHOPCOUNT, ttlGTSM))
	}
	return errors.Join(
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1),
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MINTTL, ttlGTSM))
}

// setTx sets TTL 255 and CS6, and shrinks the receive buffer: nothing
// reads this socket, peers answer on port 3784.
func setTx(fd int, v6 bool) error {
	rcv := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
	if v6 {
		return errors.Join(rcv,
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttlGTSM),
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tosCS6))
	}
	return errors.Join(rcv,
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
