package fib

import (
	"net/netip"
	"time"
)

// RouteTable is what a prefix-set reconciler (breakout) needs from the FIB;
// fibtest.Fake implements it in memory for tests without root.
type RouteTable interface {
	AddRoutes(table uint32, proto uint8, routes []Route) error
	DeleteRoutes(table uint32, proto uint8, routes []Route) error
	Dump(table uint32, proto uint8) ([]Route, error)
	Sync(table uint32, proto uint8, desired []Route) (SyncStats, error)
	SyncSet(table uint32, proto uint8, desired RouteSet) (SyncStats, error)
}

// ECMP is what the multipath reconciler (ecmp's controller) needs from the
// FIB: its routes read back, written one by one or a failover's at once,
// deleted, and swept on exit. fibtest.Fake implements it in memory, so the
// controller's logic is tested without root.
type ECMP interface {
	ResilientSupported(proto uint8, ids IDRange) (bool, error)
	SetResilient(mp Multipath, ids IDRange, res Resilient) error
	SetResilientMany(mps []Multipath, ids IDRange, res []Resilient, how Shrink) (errs []error, away time.Time)
	SetMultipath(mp Multipath) error
	ReplaceMultipath(mp Multipath) error
	DeleteRoutes(table uint32, proto uint8, routes []Route) error
	RemoveGroup(proto uint8, ids IDRange, groupID uint32) error
	Multipath(table uint32, proto uint8, prefix netip.Prefix) (MultipathState, bool, error)
	Multipaths(table uint32, proto uint8) ([]MultipathState, error)
	Sweep(tables []uint32, proto uint8, ids IDRange) (SweepStats, error)
	Close() error
}

var (
	_ RouteTable = (*Handle)(nil)
	_ ECMP       = (*Handle)(nil)
)
