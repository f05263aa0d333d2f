package fib

import (
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// monitor is what `ip monitor route nexthop` would print, counted: a
// netlink socket subscribed to route and nexthop changes in the namespace.
type monitor struct {
	fd int
}

// watch opens a monitor in ns; t.Cleanup closes it.
func (ns *testNS) watch(t *testing.T) *monitor {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns.name)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if errBack := netns.Set(orig); errBack != nil {
		runtime.LockOSThread() // keep the thread out of use: it is in the wrong namespace
		t.Fatalf("return to original namespace: %v", errBack)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []int{unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_NEXTHOP} {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			t.Fatal(err)
		}
	}
	return &monitor{fd: fd}
}

// ours tells uplinkd's changes from the kernel's own (an IPv6 link-local
// route appearing once a veth is up).
func ours(msg nlmsg) bool {
	switch msg.typ {
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		var r rawRoute
		return parseRoute(msg.data, &r) && r.proto == testProto
	case unix.RTM_NEWNEXTHOP, unix.RTM_DELNEXTHOP:
		o, ok := parseNexthop(msg.data)
		return ok && o.Protocol == testProto
	}
	return false
}

// changes drains the queued notifications and counts uplinkd's. The kernel
// queues them while handling a request, so after a call returns they are all there.
func (m *monitor) changes(t *testing.T) int {
	t.Helper()
	buf := make([]byte, 1<<16)
	n := 0
	for {
		k, _, err := unix.Recvfrom(m.fd, buf, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return n
		}
		if err != nil {
			t.Fatalf("monitor: %v", err)
		}
		_ = messages(buf[:k], func(msg nlmsg) error {
			if ours(msg) {
				n++
			}
			return nil
		})
	}
}
