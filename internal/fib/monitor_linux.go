package fib

import (
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Monitor is a socket that joined the namespace's route and nexthop
// notification groups: what `ip monitor route nexthop` reads. A watcher
// that reads the state only when told it changed stays out of the way of
// the writers it watches, where one dumping in a loop does not (a nexthop
// dump takes the rtnl lock every write needs).
type Monitor struct {
	fd  int
	buf []byte
}

// Change is what one read of a Monitor brought: the nexthop objects
// notified, the routes, and whether notifications were lost (the queue
// overflowed: the reader should read the state again).
type Change struct {
	Nexthops []NexthopChange
	Routes   []RouteChange
	Lost     bool
}

// RouteChange names a route a notification was about (added, changed or
// deleted: read it back to know which).
type RouteChange struct {
	Table    uint32
	Protocol uint8
	Prefix   netip.Prefix
}

// NexthopChange is a nexthop object as a notification gave it.
type NexthopChange struct {
	NexthopObject
	Deleted bool
}

// OpenMonitor opens a Monitor in the calling thread's namespace.
func OpenMonitor() (*Monitor, error) {
	fd, err := monitorSocket()
	if err != nil {
		return nil, err
	}
	return &Monitor{fd: fd, buf: make([]byte, 1<<16)}, nil
}

// monitorSocket opens a non-blocking rtnetlink socket in the route and
// nexthop groups.
func monitorSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, fmt.Errorf("monitor socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("monitor bind: %w", err)
	}
	for _, g := range []int{unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_NEXTHOP} {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("monitor group %d: %w", g, err)
		}
	}
	return fd, nil
}

// Wait returns what was notified, waiting up to d for the first
// notification: the zero Change when none came.
func (m *Monitor) Wait(d time.Duration) Change {
	fds := []unix.PollFd{{Fd: int32(m.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, int(max(d.Milliseconds(), 1))); err != nil || n == 0 {
		return Change{}
	}
	return m.Drain()
}

// Drain returns what is queued, without waiting.
func (m *Monitor) Drain() Change {
	var c Change
	for {
		n, _, err := unix.Recvfrom(m.fd, m.buf, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN:
			return c
		case err == unix.ENOBUFS: // the queue overflowed: notifications were lost
			c.Lost = true
			continue
		case err == unix.EINTR:
			continue
		case err != nil: // a closed socket: nothing more will come
			c.Lost = true
			return c
		}
		_ = messages(m.buf[:n], func(msg nlmsg) error {
			c.add(msg)
			return nil
		})
	}
}

func (c *Change) add(msg nlmsg) {
	switch msg.typ {
	case unix.RTM_NEWNEXTHOP, unix.RTM_DELNEXTHOP:
		if o, ok := parseNexthop(msg.data); ok {
			c.Nexthops = append(c.Nexthops, NexthopChange{NexthopObject: o, Deleted: msg.typ == unix.RTM_DELNEXTHOP})
		}
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		var r rawRoute
		if parseRoute(msg.data, &r) {
			c.Routes = append(c.Routes, RouteChange{Table: r.table, Protocol: r.proto, Prefix: r.prefix})
		}
	}
}

// Close closes the socket.
func (m *Monitor) Close() error { return unix.Close(m.fd) }
