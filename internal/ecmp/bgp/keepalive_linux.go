//go:build linux

package bgp

import (
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// GoBGP dials and accepts its sessions through Go's net package, which
// turns TCP keep-alive on at a 15 s idle time and gives no way to say
// otherwise. BGP has keepalives of its own (and BFD besides), so TCP's add
// nothing but packets: on an idle tunnel in the frugal mode (keepalive
// 60 s) they were two probes and two ACKs each 15 s a session, 0.17 GB per
// 30 days a carrier for the two sessions of a tunnel, more than BGP
// itself. quietKeepalives turns them off on this process's sockets of
// one session once it is established.

// quietKeepalives turns SO_KEEPALIVE off on this process's TCP sockets
// connected to peer, on its port or from ours (listen), and returns how
// many it changed.
func quietKeepalives(peer netip.Addr, peerPort, listenPort int) (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || !isSocket(e.Name()) {
			continue
		}
		if !sessionSocket(fd, peer, peerPort, listenPort) {
			continue
		}
		if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE); err != nil || on == 0 {
			continue
		}
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0) == nil {
			n++
		}
	}
	return n, nil
}

func isSocket(fd string) bool {
	target, err := os.Readlink("/proc/self/fd/" + fd)
	return err == nil && strings.HasPrefix(target, "socket:")
}

// sessionSocket reports whether fd is a TCP socket connected to peer on
// peerPort, or to peer from our listenPort.
func sessionSocket(fd int, peer netip.Addr, peerPort, listenPort int) bool {
	if p, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || p != unix.IPPROTO_TCP {
		return false
	}
	remote, err := unix.Getpeername(fd)
	if err != nil {
		return false
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	ra, rp := sockaddr(remote)
	_, lp := sockaddr(local)
	return ra == peer && (rp == peerPort || lp == listenPort)
}

func sockaddr(sa unix.Sockaddr) (netip.Addr, int) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), a.Port
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap(), a.Port
	}
	return netip.Addr{}, 0
}
