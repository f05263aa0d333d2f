package fib

import (
	"errors"
	"fmt"
	"slices"
)

// Sync makes the single-nexthop routes of proto in table exactly desired:
// it adds the missing, replaces those with another nexthop and deletes the
// rest, adds before deletes. Multipath routes of proto are left alone. It
// returns what it did, counting only changes that landed, and joins the
// errors of whatever failed. An invalid prefix, or one given two different
// nexthops, is refused before anything is touched.
func (h *Handle) Sync(table uint32, proto uint8, desired []Route) (SyncStats, error) {
	return h.SyncSet(table, proto, Routes(desired))
}

// SyncSet is Sync of any RouteSet; a ViaSet of a compiled breakout set
// needs no slice of routes on the way. A ViaSet with Objects routes through
// nexthop objects (see ViaSet), which SyncSet creates, keeps and deletes.
func (h *Handle) SyncSet(table uint32, proto uint8, desired RouteSet) (SyncStats, error) {
	h.op.Lock()
	defer h.op.Unlock()
	via, isVia := desired.(ViaSet)
	var objects []NexthopObject // one nexthop dump for ensureVia and dropVia
	if isVia && via.Objects {
		via, objects = h.ensureVia(table, proto, via)
		desired = via
	}
	st, err := h.syncSet(table, proto, desired)
	if isVia && err == nil {
		// Objects off, or a family gone: its object goes too.
		err = h.dropVia(table, proto, via, objects)
	}
	return st, err
}

func (h *Handle) syncSet(table uint32, proto uint8, desired RouteSet) (SyncStats, error) {
	want, err := normalizeSet(desired)
	if err != nil {
		return SyncStats{}, fmt.Errorf("sync table %d: %w", table, err)
	}
	actual, err := h.Dump(table, proto)
	if err != nil {
		return SyncStats{}, fmt.Errorf("sync table %d: %w", table, err)
	}
	slices.SortFunc(actual, func(a, b Route) int { return comparePrefix(a.Prefix, b.Prefix) })
	st, err := h.apply(table, proto, diffRoutes(want, actual))
	// The next dump is sized by the table as the sync left it, not as
	// this one found it: after a shrink from the raw million routes to a
	// few thousand it would allocate 72 MB for them.
	h.dumpHints.Store(table, want.Len())
	return st, err
}

// apply carries out a diff, upserts first so a prefix is never left without
// a route while it moves.
func (h *Handle) apply(table uint32, proto uint8, d routeDiff) (SyncStats, error) {
	st := SyncStats{Unchanged: d.unchanged}
	errAdd := h.addRoutes(table, proto, len(d.add), func(i int) Route { return d.desired.At(int(d.add[i])) })
	st.Added = landed(len(d.add), errAdd)
	errRep := h.addRoutes(table, proto, len(d.replace), func(i int) Route { return d.desired.At(int(d.replace[i])) })
	st.Replaced = landed(len(d.replace), errRep)
	errDel := h.deleteRoutes(table, proto, len(d.del), func(i int) Route { return d.actual[d.del[i]] })
	st.Deleted = landed(len(d.del), errDel)
	return st, errors.Join(errAdd, errRep, errDel)
}

// landed counts the items of an n-item batch that took effect. A batch
// error names its failures; any other error (the socket broke) leaves the
// count unknown, so none is claimed.
func landed(n int, err error) int {
	var be *BatchError
	switch {
	case err == nil:
		return n
	case errors.As(err, &be):
		return n - be.Failed
	}
	return 0
}
