package bgp

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// keepalives lists this process's TCP sockets on port (either end) and
// how many of them have SO_KEEPALIVE on.
func keepalives(t *testing.T, port int) (total, on int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || !isSocket(e.Name()) {
			continue
		}
		if p, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || p != unix.IPPROTO_TCP {
			continue
		}
		remote, err1 := unix.Getpeername(fd)
		local, err2 := unix.Getsockname(fd)
		if err1 != nil || err2 != nil {
			continue
		}
		_, rp := sockaddr(remote)
		_, lp := sockaddr(local)
		if rp != port && lp != port {
			continue
		}
		total++
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE); err == nil && v != 0 {
			on++
		}
	}
	return total, on
}

// TestSessionsRunWithoutTCPKeepalive: Go turns TCP keep-alive on for every
// connection GoBGP dials or accepts (15 s); once established, both ends'
// sockets of both sessions have it off.
func TestSessionsRunWithoutTCPKeepalive(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))
	eventually(t, converge, func() string {
		total, on := keepalives(t, p.hubCfg.ListenPort)
		if total < 4 || on != 0 {
			return fmt.Sprintf("%d of the %d session sockets have TCP keep-alive on (want 4 sockets, none on)", on, total)
		}
		return ""
	})
}

// TestQuietKeepalivesOnlyThePeers: only the peer's connection is changed,
// not another on the same port.
func TestQuietKeepalivesOnlyThePeers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var conns []net.Conn
	for _, src := range []string{"127.0.0.3", "127.0.0.4"} {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c, <-accepted)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if total, on := keepalives(t, port); total != 4 || on != 4 {
		t.Fatalf("before: %d of %d sockets with keep-alive on, want 4 of 4 (Go's default)", on, total)
	}
	// The listener's side of 127.0.0.3's connection: peer 127.0.0.3
	// from our listen port.
	n, err := quietKeepalives(addr("127.0.0.3"), 179, port)
	if err != nil || n != 1 {
		t.Fatalf("quietKeepalives = %d, %v; want 1 (the accepted socket of 127.0.0.3)", n, err)
	}
	// The dialer's side: peer 127.0.0.1 on its port.
	if n, err := quietKeepalives(addr("127.0.0.1"), port, -1); err != nil || n != 2 {
		t.Fatalf("quietKeepalives = %d, %v; want 2 (both dialed sockets)", n, err)
	}
	if total, on := keepalives(t, port); total != 4 || on != 1 {
		t.Fatalf("after: %d of %d sockets with keep-alive on, want 1 (127.0.0.4's accepted one)", on, total)
	}
}
