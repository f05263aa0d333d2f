package fib

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// sweptRoute is what a delete needs to hit exactly one route.
type sweptRoute struct {
	prefix   netip.Prefix
	priority uint32
}

// Sweep deletes every route of proto in tables, of any kind and both
// families, then every nexthop object uplinkd owns (protocol proto and an ID
// in ids), groups before their members. It is what a start-up or an exit
// with on_exit=flush runs.
func (h *Handle) Sweep(tables []uint32, proto uint8, ids IDRange) (SweepStats, error) {
	h.op.Lock()
	defer h.op.Unlock()
	var st SweepStats
	var errs []error
	for _, table := range tables {
		n, err := h.sweepTable(table, proto)
		st.Routes += n
		errs = append(errs, err)
	}
	n, err := h.sweepNexthops(proto, ids)
	st.Nexthops = n
	return st, errors.Join(append(errs, err)...)
}

// sweepTable deletes all routes of proto in one table.
func (h *Handle) sweepTable(table uint32, proto uint8) (int, error) {
	var rs []sweptRoute
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		n := len(rs)
		err := h.dumpRoutes(routeFilter{family: fam, table: table, proto: proto}, func() { rs = rs[:n] }, func(r *rawRoute) {
			rs = append(rs, sweptRoute{prefix: r.prefix, priority: r.priority})
		})
		if err != nil {
			return 0, fmt.Errorf("sweep table %d: %w", table, err)
		}
	}
	err := h.run(batchOp{
		name:  fmt.Sprintf("sweep table %d", table),
		n:     len(rs),
		order: spread(len(rs)), // a dump comes sorted: see spread
		build: func(m *msgBuf, i int, seq uint32) int {
			return buildDelRoute(m, seq, table, proto, rs[i].prefix, rs[i].priority)
		},
		object: func(i int) string { return rs[i].prefix.String() },
		ignore: isNotFound,
	})
	return landed(len(rs), err), err
}

// sweepNexthops deletes owned groups, then owned single nexthops.
func (h *Handle) sweepNexthops(proto uint8, ids IDRange) (int, error) {
	mine, err := h.Nexthops(proto, ids)
	if err != nil {
		return 0, fmt.Errorf("sweep nexthops: %w", err)
	}
	var groups, singles []uint32
	for _, o := range mine {
		if o.Group != nil {
			groups = append(groups, o.ID)
		} else {
			singles = append(singles, o.ID)
		}
	}
	errG := h.deleteNexthops(groups)
	errS := h.deleteNexthops(singles)
	return landed(len(groups), errG) + landed(len(singles), errS), errors.Join(errG, errS)
}
