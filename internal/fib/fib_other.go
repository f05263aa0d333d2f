//go:build !linux

package fib

import (
	"net/netip"
	"time"
)

// Handle is an rtnetlink socket; rtnetlink exists only on Linux.
type Handle struct{}

// Open returns ErrUnsupported off Linux.
func Open() (*Handle, error) { return nil, ErrUnsupported }

// Close does nothing off Linux.
func (h *Handle) Close() error { return nil }

// AddRoutes returns ErrUnsupported off Linux.
func (h *Handle) AddRoutes(table uint32, proto uint8, routes []Route) error { return ErrUnsupported }

// DeleteRoutes returns ErrUnsupported off Linux.
func (h *Handle) DeleteRoutes(table uint32, proto uint8, routes []Route) error {
	return ErrUnsupported
}

// Dump returns ErrUnsupported off Linux.
func (h *Handle) Dump(table uint32, proto uint8) ([]Route, error) { return nil, ErrUnsupported }

// Sync returns ErrUnsupported off Linux.
func (h *Handle) Sync(table uint32, proto uint8, desired []Route) (SyncStats, error) {
	return SyncStats{}, ErrUnsupported
}

// SyncSet returns ErrUnsupported off Linux.
func (h *Handle) SyncSet(table uint32, proto uint8, desired RouteSet) (SyncStats, error) {
	return SyncStats{}, ErrUnsupported
}

// SetMultipath returns ErrUnsupported off Linux.
func (h *Handle) SetMultipath(mp Multipath) error { return ErrUnsupported }

// ReplaceMultipath returns ErrUnsupported off Linux.
func (h *Handle) ReplaceMultipath(mp Multipath) error { return ErrUnsupported }

// SetResilient returns ErrUnsupported off Linux.
func (h *Handle) SetResilient(mp Multipath, ids IDRange, res Resilient) error {
	return ErrUnsupported
}

// Sends is 0 off Linux.
func (h *Handle) Sends() int64 { return 0 }

// SetResilientMany returns ErrUnsupported for each route off Linux.
func (h *Handle) SetResilientMany(mps []Multipath, ids IDRange, res []Resilient, how Shrink) ([]error, time.Time) {
	if how.Between != nil {
		how.Between()
	}
	errs := make([]error, len(mps))
	for i := range errs {
		errs[i] = ErrUnsupported
	}
	return errs, time.Time{}
}

// RemoveGroup returns ErrUnsupported off Linux.
func (h *Handle) RemoveGroup(proto uint8, ids IDRange, groupID uint32) error {
	return ErrUnsupported
}

// Multipath returns ErrUnsupported off Linux.
func (h *Handle) Multipath(table uint32, proto uint8, prefix netip.Prefix) (MultipathState, bool, error) {
	return MultipathState{}, false, ErrUnsupported
}

// Multipaths returns ErrUnsupported off Linux.
func (h *Handle) Multipaths(table uint32, proto uint8) ([]MultipathState, error) {
	return nil, ErrUnsupported
}

// Nexthops returns ErrUnsupported off Linux.
func (h *Handle) Nexthops(proto uint8, ids IDRange) ([]NexthopObject, error) {
	return nil, ErrUnsupported
}

// Buckets returns ErrUnsupported off Linux.
func (h *Handle) Buckets(id uint32) ([]Bucket, error) { return nil, ErrUnsupported }

// ResilientSupported returns ErrUnsupported off Linux.
func (h *Handle) ResilientSupported(proto uint8, ids IDRange) (bool, error) {
	return false, ErrUnsupported
}

// Sweep returns ErrUnsupported off Linux.
func (h *Handle) Sweep(tables []uint32, proto uint8, ids IDRange) (SweepStats, error) {
	return SweepStats{}, ErrUnsupported
}

// IPv4Prefixes returns ErrUnsupported off Linux.
func IPv4Prefixes() (int, error) { return 0, ErrUnsupported }
