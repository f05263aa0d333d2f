package fib

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ErrUnsupported is returned on platforms without rtnetlink.
var ErrUnsupported = errors.New("fib: not supported on this platform")

// Nexthop is where a single-path route sends packets.
type Nexthop struct {
	// Gateway is invalid (the zero Addr) for a device route or a blackhole.
	Gateway netip.Addr
	// LinkIndex is the output interface; 0 lets the kernel pick it from Gateway.
	LinkIndex int
	// Blackhole drops matching packets; Gateway and LinkIndex are then ignored.
	Blackhole bool
	// Object, when not 0, is the nexthop object (RTA_NH_ID) the route points
	// at instead of carrying a gateway and device of its own; Gateway and
	// LinkIndex then say what the object holds. SyncSet sets it for a ViaSet
	// with Objects; a dump sets it for a route on one of ViaObjects.
	Object uint32
}

// String formats a nexthop the way `ip route` does.
func (nh Nexthop) String() string {
	if nh.Object != 0 {
		plain := nh
		plain.Object = 0
		return fmt.Sprintf("nhid %d %s", nh.Object, plain)
	}
	switch {
	case nh.Blackhole:
		return "blackhole"
	case nh.Gateway.IsValid() && nh.LinkIndex != 0:
		return fmt.Sprintf("via %s dev #%d", nh.Gateway, nh.LinkIndex)
	case nh.Gateway.IsValid():
		return "via " + nh.Gateway.String()
	default:
		return fmt.Sprintf("dev #%d", nh.LinkIndex)
	}
}

// matches reports whether an installed nexthop satisfies the desired one; a
// desired LinkIndex of 0 accepts whatever device the kernel resolved.
func (nh Nexthop) matches(actual Nexthop) bool {
	if nh.Object != 0 || actual.Object != 0 {
		// SyncSet makes the object hold the nexthop before it compares.
		return nh.Object == actual.Object
	}
	if nh.Blackhole || actual.Blackhole {
		return nh.Blackhole == actual.Blackhole
	}
	if nh.Gateway != actual.Gateway {
		return false
	}
	return nh.LinkIndex == 0 || nh.LinkIndex == actual.LinkIndex
}

// Route is one prefix with one nexthop.
type Route struct {
	Prefix  netip.Prefix
	Nexthop Nexthop
}

// String formats a route the way `ip route` does.
func (r Route) String() string { return r.Prefix.String() + " " + r.Nexthop.String() }

// Via pairs every prefix with nh, the common case of a breakout set.
func Via(prefixes []netip.Prefix, nh Nexthop) []Route {
	rs := make([]Route, len(prefixes))
	for i, p := range prefixes {
		rs[i] = Route{Prefix: p, Nexthop: nh}
	}
	return rs
}

// RouteSet is a set of routes as Sync takes it: Len routes, the i-th
// At(i). Routes is the plain one; ViaSet pairs prefixes with nexthops
// without a slice of routes (72 bytes a route: 11 MB for the 159 k routes
// of the whole RouteViews table aggregated, 72 MB unaggregated).
type RouteSet interface {
	Len() int
	At(i int) Route
}

// Routes is a []Route as a RouteSet.
type Routes []Route

func (rs Routes) Len() int       { return len(rs) }
func (rs Routes) At(i int) Route { return rs[i] }

// ViaSet routes each prefix via its family's nexthop: Nexthop4 for IPv4,
// Nexthop6 for IPv6.
type ViaSet struct {
	Prefixes           []netip.Prefix
	Nexthop4, Nexthop6 Nexthop
	// Objects makes SyncSet route each family through a nexthop object of
	// its own (ViaObjectIDs of the table), kept equal to the family's
	// nexthop, rather than give every route its own gateway and device.
	// The kernel then neither checks the gateway nor allocates a nexthop's
	// per-CPU caches route by route: 159 k routes went in 20-25 % faster,
	// and a new gateway is one change of the object, not one a route. A
	// family whose nexthop has no device, a gateway of the other family or
	// is a blackhole keeps plain routes, as does a table with no IDs of its
	// own (see ViaObjectIDs).
	Objects bool
}

// ViaObjects are the nexthop object IDs SyncSet gives the nexthops of a
// ViaSet with Objects, two a table (ViaObjectIDs), apart from the ECMP
// controller's resilient groups (ecmp.NexthopIDs).
var ViaObjects = IDRange{First: 7_000_000, Last: 7_000_000 + 2<<viaTableBits - 1}

// viaTableBits: tables below 2^20 have objects of their own (2,097,152 IDs
// from 7,000,000); a table above keeps plain routes, rather than share a
// lower table's objects, whose change would move that table's routes.
const viaTableBits = 20

// ViaObjectIDs returns the nexthop object IDs of table's IPv4 and IPv6
// nexthops in a ViaSet with Objects; ok is false for a table with none (at
// or above 2^20), whose ViaSets SyncSet installs as plain routes.
func ViaObjectIDs(table uint32) (v4, v6 uint32, ok bool) {
	if table >= 1<<viaTableBits {
		return 0, 0, false
	}
	v4 = ViaObjects.First + 2*table
	return v4, v4 + 1, true
}

func (v ViaSet) Len() int { return len(v.Prefixes) }

func (v ViaSet) At(i int) Route {
	p := v.Prefixes[i]
	if p.Addr().Is4() {
		return Route{Prefix: p, Nexthop: v.Nexthop4}
	}
	return Route{Prefix: p, Nexthop: v.Nexthop6}
}

// SyncStats counts what Sync did.
type SyncStats struct {
	Added, Replaced, Deleted, Unchanged int
}

// WeightedNexthop is one member of a multipath route.
type WeightedNexthop struct {
	Gateway netip.Addr
	// LinkIndex is required for resilient groups (nexthop objects need a device).
	LinkIndex int
	// Weight is 1..256.
	Weight int
}

// String formats a nexthop the way `ip route` lists multipath members.
func (w WeightedNexthop) String() string {
	if !w.Gateway.IsValid() {
		return fmt.Sprintf("dev #%d weight %d", w.LinkIndex, w.Weight)
	}
	return fmt.Sprintf("via %s dev #%d weight %d", w.Gateway, w.LinkIndex, w.Weight)
}

// Multipath is one route with several weighted nexthops.
type Multipath struct {
	Table    uint32
	Protocol uint8
	Prefix   netip.Prefix
	Nexthops []WeightedNexthop
}

// MultipathState is a multipath route as read back from the kernel.
type MultipathState struct {
	Prefix netip.Prefix
	// GroupID is the nexthop group the route uses, 0 for a plain RTA_MULTIPATH route.
	GroupID  uint32
	Nexthops []WeightedNexthop
}

// IDRange is a block of nexthop object IDs that uplinkd owns.
type IDRange struct {
	First, Last uint32
}

// Contains reports whether id lies in the range.
func (r IDRange) Contains(id uint32) bool { return id >= r.First && id <= r.Last }

// Resilient configures a resilient nexthop group.
type Resilient struct {
	// GroupID must lie in the owned range. Member objects are allocated from
	// the top of the range down, so pick group IDs from the bottom.
	GroupID uint32
	// Buckets is fixed for a group's life; 0 means 128 (the kernel default).
	Buckets uint16
	// IdleTimer: a bucket idle this long may move to an underweight member;
	// 0 means 120 s (the kernel default). Resolution 10 ms.
	IdleTimer time.Duration
	// UnbalancedTimer: after this long unbalanced, buckets move even if busy;
	// 0 means never (the kernel default).
	UnbalancedTimer time.Duration
}

// NexthopObject is a kernel nexthop object (RTM_NEWNEXTHOP) as read back.
type NexthopObject struct {
	ID        uint32
	Protocol  uint8
	Family    int
	Gateway   netip.Addr
	LinkIndex int
	Blackhole bool
	// Group is non-nil for a group; each member's ID and weight.
	Group []GroupMember
	// Resilient is set for a resilient group (Buckets, timers).
	Resilient *Resilient
}

// GroupMember is one entry of a nexthop group.
type GroupMember struct {
	ID     uint32
	Weight int
}

// Bucket is one bucket of a resilient group and the member it maps to.
type Bucket struct {
	Index     uint16
	NexthopID uint32
	IdleTime  time.Duration
}

// SweepStats counts what Sweep removed.
type SweepStats struct {
	Routes, Nexthops int
}

// Shrink is how SetResilientMany takes members out of groups.
type Shrink struct {
	// Steer points each leaving member at a survivor's path before
	// deleting it (see steerTargets): no grace period of the kernel's
	// before the flows leave it, but the kernel walks every IPv4 route of
	// the namespace for each member steered (~17 ns a route), so worth it
	// only while the IPv4 FIB is small (see IPv4Prefixes).
	Steer bool
	// Between, if not nil, is called once, after the steers and before the
	// deletes (which wait for a grace period), without the handle's lock:
	// a caller's other writes could land there without waiting for them;
	// the ecmp controller stamps when the steer landed, for its log.
	Between func()
}
