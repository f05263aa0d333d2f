//go:build linux

package bfd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

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
// tunnel interface, reporting each packet's TTL for the GTSM check and the
// kernel's time of its arrival. IP_MINTTL is set too, but Linux enforces
// it for TCP only, so the check in dispatch is what protects the session.
func listenUDP(local netip.Addr, iface string) (rxConn, error) {
	lc := net.ListenConfig{Control: sockopts(iface, local.Is6(), setRx)}
	pc, err := lc.ListenPacket(context.Background(), network(local), addrPort(local, Port, iface).String())
	if err != nil {
		return nil, fmt.Errorf("listen bfd on %s: %w", local, err)
	}
	uc := pc.(*net.UDPConn)
	rc, err := uc.SyscallConn()
	if err != nil {
		uc.Close()
		return nil, fmt.Errorf("listen bfd on %s: %w", local, err)
	}
	return &rxSock{c: uc, queue: queue{rc}, oob: make([]byte, 128)}, nil
}

// queue asks the kernel whether a datagram waits in the socket: SIOCINQ
// on a UDP socket gives the size of the next one, 0 when none does (a
// control packet is never empty). One ioctl, beside a read blocked in
// another goroutine.
type queue struct{ rc syscall.RawConn }

func (q queue) Pending() bool {
	n := 0
	var ierr error
	if err := q.rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ierr != nil {
		return false // closed: the session is going away
	}
	return n > 0
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

// setRxTTL asks for the TTL of every packet before bind(2): a packet queued
// before the option is set carries none and would be dropped as off-link,
// costing a whole slow interval at start.
func setRxTTL(fd int, v6 bool) error {
	if v6 {
		return errors.Join(
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1),
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MINHOPCOUNT, ttlGTSM))
	}
	return errors.Join(
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1),
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MINTTL, ttlGTSM))
}

// setRx asks for the TTL as above and for the kernel's receive timestamp of
// every packet (see rxSock.ReadFrom).
func setRx(fd int, v6 bool) error {
	return errors.Join(setRxTTL(fd, v6), unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1))
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

// rxSock reads control packets with their TTL (or hop limit) and the
// kernel's receive timestamp. Read by one goroutine: oob is reused.
type rxSock struct {
	c *net.UDPConn
	queue
	oob []byte
}

// ReadFrom returns the datagram's TTL, -1 when none came with it, and
// when the kernel received it: the packet may wait in the socket (the
// reader not scheduled) and a frugal session must not take a packet that
// came before its question for the answer (see Session.answered). at is
// the time of the read when the kernel gave none.
func (r *rxSock) ReadFrom(b []byte) (n, ttl int, src netip.Addr, at time.Time, err error) {
	n, oobn, _, from, err := r.c.ReadMsgUDPAddrPort(b, r.oob)
	at, ttl = time.Now(), -1
	if err != nil {
		return 0, ttl, netip.Addr{}, at, err
	}
	src = from.Addr().Unmap().WithZone("") // sessions are keyed by address and interface
	msgs, perr := unix.ParseSocketControlMessage(r.oob[:oobn])
	if perr != nil {
		return n, ttl, src, at, nil
	}
	for _, m := range msgs {
		switch {
		case (m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TTL ||
			m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_HOPLIMIT) && len(m.Data) >= 4:
			ttl = int(int32(binary.NativeEndian.Uint32(m.Data)))
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})):
			// The kernel's struct timespec, as x/sys lays it out for this
			// architecture.
			ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			at = at.Add(-waited(at, time.Unix(ts.Unix())))
		}
	}
	return n, ttl, src, at, nil
}

func (r *rxSock) Close() error { return r.c.Close() }

// waited is how long a packet the kernel stamped at k (its wall clock)
// waited until now. The arrival is then now less that, on the monotonic
// clock the sessions compare times with, so that a step of the wall clock
// cannot make a fresh packet look old; a wait beyond maxSocketWait (a
// step while it waited) counts as none.
func waited(now, k time.Time) time.Duration {
	d := now.Round(0).Sub(k)
	if d < 0 || d > maxSocketWait {
		return 0
	}
	return d
}

// maxSocketWait bounds the wait a receive timestamp may show.
const maxSocketWait = 5 * time.Second
