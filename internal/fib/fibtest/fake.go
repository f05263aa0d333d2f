// Package fibtest fakes the kernel FIB for reconciler tests that run
// without root: routes and multipath routes live in maps.
package fibtest

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/uplinkd/uplinkd/internal/fib"
)

type key struct {
	table  uint32
	proto  uint8
	prefix netip.Prefix
}

// Fake is an in-memory fib.RouteTable and fib.ECMP. Safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	routes map[key]fib.Nexthop
	multi  map[key]fib.MultipathState
	// Resilient is what ResilientSupported answers.
	Resilient bool
	// Err, if set, is returned by every call that would change something.
	Err error
	// Calls counts calls that changed something, to assert idempotence.
	Calls int
	// Away is what SetResilientMany answers for when its routes stopped
	// forwarding through members that left (zero: only at its last write).
	Away time.Time
	// Refuse, if set, is asked before each multipath route is written or
	// deleted: an error refuses that route alone, as the kernel refuses
	// one via a link that is gone.
	Refuse func(mp fib.Multipath) error
	// Closed is set by Close.
	Closed bool
	// Written lists the multipath routes written and deleted (no next
	// hops), in order: what a test of a reconciler's writes reads.
	Written []fib.Multipath
}

var (
	_ fib.RouteTable = (*Fake)(nil)
	_ fib.ECMP       = (*Fake)(nil)
)

// New returns an empty fake FIB that claims resilient group support.
func New() *Fake {
	return &Fake{routes: map[key]fib.Nexthop{}, multi: map[key]fib.MultipathState{}, Resilient: true}
}

// AddRoutes installs or replaces routes.
func (f *Fake) AddRoutes(table uint32, proto uint8, routes []fib.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.Calls++
	for _, r := range routes {
		f.routes[key{table, proto, r.Prefix.Masked()}] = r.Nexthop
	}
	return nil
}

// DeleteRoutes deletes routes by prefix; absent ones count as deleted.
func (f *Fake) DeleteRoutes(table uint32, proto uint8, routes []fib.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.Calls++
	for _, r := range routes {
		k := key{table, proto, r.Prefix.Masked()}
		if err := f.refuse(fib.Multipath{Table: table, Protocol: proto, Prefix: k.prefix}); err != nil {
			return err
		}
		delete(f.routes, k)
		if _, ok := f.multi[k]; ok { // a multipath route goes by prefix too
			delete(f.multi, k)
			f.Written = append(f.Written, fib.Multipath{Table: table, Protocol: proto, Prefix: k.prefix})
		}
	}
	return nil
}

// refuse is f.Refuse's answer for mp. Called with f.mu held.
func (f *Fake) refuse(mp fib.Multipath) error {
	if f.Refuse == nil {
		return nil
	}
	return f.Refuse(mp)
}

// Dump returns the routes of proto in table, in no particular order.
func (f *Fake) Dump(table uint32, proto uint8) ([]fib.Route, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fib.Route
	for k, nh := range f.routes {
		if k.table == table && k.proto == proto {
			out = append(out, fib.Route{Prefix: k.prefix, Nexthop: nh})
		}
	}
	return out, nil
}

// Sync makes the routes of proto in table exactly desired, like the kernel one.
func (f *Fake) Sync(table uint32, proto uint8, desired []fib.Route) (fib.SyncStats, error) {
	return f.SyncSet(table, proto, fib.Routes(desired))
}

// SyncSet is Sync of a RouteSet.
func (f *Fake) SyncSet(table uint32, proto uint8, desired fib.RouteSet) (fib.SyncStats, error) {
	want, err := wantSet(desired)
	if err != nil {
		return fib.SyncStats{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var st fib.SyncStats
	for p, nh := range want {
		k := key{table, proto, p}
		cur, ok := f.routes[k]
		switch {
		case !ok:
			st.Added++
		case cur != nh:
			st.Replaced++
		default:
			st.Unchanged++
			continue
		}
		f.routes[k] = nh
	}
	for k := range f.routes {
		if _, ok := want[k.prefix]; !ok && k.table == table && k.proto == proto {
			delete(f.routes, k)
			st.Deleted++
		}
	}
	if st.Added+st.Replaced+st.Deleted > 0 {
		f.Calls++
	}
	return st, f.Err
}

// wantSet masks prefixes and refuses one given two nexthops, as fib does.
func wantSet(desired fib.RouteSet) (map[netip.Prefix]fib.Nexthop, error) {
	want := make(map[netip.Prefix]fib.Nexthop, desired.Len())
	for i := range desired.Len() {
		r := desired.At(i)
		if !r.Prefix.IsValid() {
			return nil, fmt.Errorf("invalid prefix %v", r.Prefix)
		}
		p := r.Prefix.Masked()
		if cur, ok := want[p]; ok && cur != r.Nexthop {
			return nil, fmt.Errorf("prefix %s listed with two nexthops", p)
		}
		want[p] = r.Nexthop
	}
	return want, nil
}

// ResilientSupported answers f.Resilient.
func (f *Fake) ResilientSupported(uint8, fib.IDRange) (bool, error) { return f.Resilient, nil }

// SetResilient records mp as a route via group res.GroupID.
func (f *Fake) SetResilient(mp fib.Multipath, _ fib.IDRange, res fib.Resilient) error {
	return f.setMulti(mp, res.GroupID, true)
}

// SetResilientMany is SetResilient for each route, how.Between called
// first, and f.Away.
func (f *Fake) SetResilientMany(mps []fib.Multipath, ids fib.IDRange, res []fib.Resilient, how fib.Shrink) ([]error, time.Time) {
	if how.Between != nil {
		how.Between()
	}
	errs := make([]error, len(mps))
	for i := range mps {
		errs[i] = f.SetResilient(mps[i], ids, res[i])
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return errs, f.Away
}

// SetMultipath records mp as a plain multipath route; one the fake
// already holds is not written again (the kernel one reads it first).
func (f *Fake) SetMultipath(mp fib.Multipath) error { return f.setMulti(mp, 0, true) }

// ReplaceMultipath is SetMultipath without the read: it always writes.
func (f *Fake) ReplaceMultipath(mp fib.Multipath) error { return f.setMulti(mp, 0, false) }

func (f *Fake) setMulti(mp fib.Multipath, gid uint32, read bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	if err := f.refuse(mp); err != nil {
		return err
	}
	k := key{mp.Table, mp.Protocol, mp.Prefix.Masked()}
	if len(mp.Nexthops) == 0 {
		delete(f.multi, k)
		f.Calls++
		f.Written = append(f.Written, fib.Multipath{Table: mp.Table, Protocol: mp.Protocol, Prefix: k.prefix})
		return nil
	}
	st := fib.MultipathState{Prefix: k.prefix, GroupID: gid, Nexthops: append([]fib.WeightedNexthop(nil), mp.Nexthops...)}
	if cur, ok := f.multi[k]; read && ok && sameState(cur, st) {
		return nil
	}
	mp.Prefix, mp.Nexthops = k.prefix, st.Nexthops
	f.Written = append(f.Written, mp)
	f.multi[k] = st
	f.Calls++
	return nil
}

func sameState(a, b fib.MultipathState) bool {
	if a.GroupID != b.GroupID || len(a.Nexthops) != len(b.Nexthops) {
		return false
	}
	for i := range a.Nexthops {
		if a.Nexthops[i] != b.Nexthops[i] {
			return false
		}
	}
	return true
}

// RemoveGroup forgets routes via the group, as the kernel deletes them.
func (f *Fake) RemoveGroup(_ uint8, _ fib.IDRange, groupID uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, st := range f.multi {
		if st.GroupID == groupID {
			delete(f.multi, k)
		}
	}
	return nil
}

// Multipath returns the multipath route for prefix.
func (f *Fake) Multipath(table uint32, proto uint8, prefix netip.Prefix) (fib.MultipathState, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.multi[key{table, proto, prefix.Masked()}]
	return st, ok, nil
}

// Multipaths returns the multipath routes of proto in table, by prefix.
func (f *Fake) Multipaths(table uint32, proto uint8) ([]fib.MultipathState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fib.MultipathState
	for k, st := range f.multi {
		if k.table == table && k.proto == proto {
			st.Nexthops = slices.Clone(st.Nexthops)
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b fib.MultipathState) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
	return out, nil
}

// Sweep deletes every route of proto in tables, as the kernel one does on
// exit; Nexthops counts the groups in ids those routes used.
func (f *Fake) Sweep(tables []uint32, proto uint8, ids fib.IDRange) (fib.SweepStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var st fib.SweepStats
	groups := map[uint32]bool{}
	for _, t := range tables {
		for k := range f.routes {
			if k.table == t && k.proto == proto {
				delete(f.routes, k)
				st.Routes++
			}
		}
		for k, m := range f.multi {
			if k.table == t && k.proto == proto {
				delete(f.multi, k)
				st.Routes++
				if m.GroupID != 0 && ids.Contains(m.GroupID) {
					groups[m.GroupID] = true
				}
			}
		}
	}
	st.Nexthops = len(groups)
	return st, nil
}

// Close marks the fake closed.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Closed = true
	return nil
}
