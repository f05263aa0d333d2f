package fib

import (
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

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
	var fd int
	var err error
	ns.inside(t, func() { fd, err = monitorSocket() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &monitor{fd: fd}
}

// openMonitor opens a Monitor in ns; t.Cleanup closes it.
func (ns *testNS) openMonitor(t *testing.T) *Monitor {
	t.Helper()
	var m *Monitor
	var err error
	ns.inside(t, func() { m, err = OpenMonitor() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// inside runs fn on a thread switched into ns (sockets fn opens stay
// there).
func (ns *testNS) inside(t *testing.T, fn func()) {
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
	fn()
	if err := netns.Set(orig); err != nil {
		runtime.LockOSThread() // keep the thread out of use: it is in the wrong namespace
		t.Fatalf("return to original namespace: %v", err)
	}
}

// TestMonitorFollowsAGroup: a Monitor tells a resilient group's new
// members when one leaves (what the bench follows a failover by, without
// reading), and names the route a change of mode rewrote.
func TestMonitorFollowsAGroup(t *testing.T) {
	ns := newNS(t, 3)
	prefix := netip.MustParsePrefix("203.0.113.0/24")
	res := Resilient{GroupID: testIDs.First, Buckets: 32}
	mp := Multipath{Table: testTable, Protocol: testProto, Prefix: prefix, Nexthops: ns.weighted(false, []int{0, 1, 2}, []int{1, 1, 1})}
	if err := ns.h.SetResilient(mp, testIDs, res); err != nil {
		t.Fatal(err)
	}
	m := ns.openMonitor(t)
	// The kernel's own changes (an IPv6 address of a new veth becoming
	// usable adds its local route) are no part of it.
	mine := func(c Change) (n int) {
		for _, r := range c.Routes {
			if r.Protocol == testProto {
				n++
			}
		}
		for _, o := range c.Nexthops {
			if o.Protocol == testProto {
				n++
			}
		}
		return n
	}
	if c := m.Wait(20 * time.Millisecond); mine(c) != 0 || c.Lost {
		t.Fatalf("nothing of ours changed, the monitor read %+v", c)
	}
	mp.Nexthops = mp.Nexthops[:2]
	if err := ns.h.SetResilient(mp, testIDs, res); err != nil {
		t.Fatal(err)
	}
	c := m.Wait(time.Second)
	var group []GroupMember
	deleted := 0
	for _, n := range c.Nexthops {
		switch {
		case n.Deleted:
			deleted++
		case n.ID == res.GroupID:
			group = n.Group
		}
	}
	if len(group) != 2 || deleted != 1 {
		t.Fatalf("a member left: the monitor read group %+v and %d deleted objects (%+v), want 2 members and 1", group, deleted, c.Nexthops)
	}
	mp.Nexthops = mp.Nexthops[:1]
	if err := ns.h.SetMultipath(mp); err != nil {
		t.Fatal(err)
	}
	c = m.Wait(time.Second)
	if !slices.ContainsFunc(c.Routes, func(r RouteChange) bool { return r.Prefix == prefix && r.Table == testTable && r.Protocol == testProto }) {
		t.Fatalf("the route rewritten without its group: the monitor read routes %+v, want %s in table %d", c.Routes, prefix, testTable)
	}
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
