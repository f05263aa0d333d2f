package fib

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// batchOp is a run of independent messages sent many per sendmsg.
type batchOp struct {
	name string
	n    int
	// order maps a send position to an item index; nil sends in order.
	order func(pos int) int
	// build appends item i's message with sequence number seq and returns its offset.
	build func(m *msgBuf, i int, seq uint32) int
	// object names item i in error reports.
	object func(i int) string
	// ignore reports errnos that mean success (ESRCH on a delete).
	ignore func(unix.Errno) bool
}

// run sends the batch in chunks. Messages carry no ACK request except the
// last of each chunk: the kernel answers only failures, and the final ACK
// proves every earlier message of the chunk was processed.
func (h *Handle) run(op batchOp) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	be := &BatchError{Op: op.name, Total: op.n}
	for start := 0; start < op.n; {
		next, err := h.chunk1(op, start, be)
		if err != nil {
			return errors.Join(fmt.Errorf("%s: after %d of %d: %w", op.name, start, op.n, err), be.errOrNil())
		}
		start = next
	}
	return be.errOrNil()
}

// chunk1 sends the messages from start that fit one sendmsg, collects their
// errors and returns the index of the first message not sent.
func (h *Handle) chunk1(op batchOp, start int, be *BatchError) (int, error) {
	m := &h.wbuf
	m.b = m.b[:0]
	base := h.seq + 1
	end, last := start, 0
	for end < op.n && len(m.b) < h.chunk {
		last = op.build(m, op.item(end), base+uint32(end-start))
		end++
	}
	m.setFlags(last, unix.NLM_F_ACK)
	h.seq = base + uint32(end-start-1)
	if err := h.send(m.b); err != nil {
		return 0, err
	}
	err := h.collect(base, h.seq, func(a ackInfo) {
		if op.ignore != nil && op.ignore(a.errno) {
			return
		}
		i := op.item(start + int(a.seq-base))
		be.add(i, ItemError{Object: op.object(i), Err: a.errno, Msg: a.msg})
	})
	return end, err
}

// item is the index of the item sent at position pos.
func (op batchOp) item(pos int) int {
	if op.order == nil {
		return pos
	}
	return op.order(pos)
}

// collect reads answers until the ACK (or error) for seq last, passing every
// error for a sequence number in [first, last] to fail.
func (h *Handle) collect(first, last uint32, fail func(ackInfo)) error {
	for done := false; !done; {
		b, err := h.recv()
		if err != nil {
			return err
		}
		err = messages(b, func(m nlmsg) error {
			if m.typ != unix.NLMSG_ERROR || m.seq-first > last-first {
				return nil // a stale answer to an earlier, abandoned request
			}
			a := parseAck(m)
			if a.errno != 0 {
				fail(a)
			}
			done = done || m.seq == last
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// request sends one message and waits for its ACK.
func (h *Handle) request(name string, build func(m *msgBuf, seq uint32) int) error {
	err := h.run(batchOp{
		name:   name,
		n:      1,
		build:  func(m *msgBuf, _ int, seq uint32) int { return build(m, seq) },
		object: func(int) string { return name },
	})
	if be, ok := err.(*BatchError); ok {
		return be.First[0]
	}
	return err
}

// AddRoutes installs or replaces routes in table, marked with proto, many
// messages per sendmsg. Some may fail while others land: the error (a
// *BatchError) says how many and which. Replacing takes over a route of
// another protocol with the same prefix and metric, as `ip route replace`
// does: give uplinkd tables of its own. Routes go in the order given, and
// sorted is best: the kernel lays out a table in insertion order, and one
// inserted sorted dumps ~3x faster than one inserted scattered.
func (h *Handle) AddRoutes(table uint32, proto uint8, routes []Route) error {
	return h.addRoutes(table, proto, len(routes), func(i int) Route { return routes[i] })
}

// addRoutes is AddRoutes of n routes, the i-th route(i).
func (h *Handle) addRoutes(table uint32, proto uint8, n int, route func(int) Route) error {
	return h.run(batchOp{
		name: fmt.Sprintf("add routes table %d", table),
		n:    n,
		build: func(m *msgBuf, i int, seq uint32) int {
			return buildRoute(m, unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, seq, table, proto, route(i))
		},
		object: func(i int) string { return route(i).String() },
	})
}

// DeleteRoutes deletes the routes of proto in table for these prefixes; a
// prefix that has no such route counts as deleted. Prefixes must be
// distinct: they go in spread order, not in the order given.
func (h *Handle) DeleteRoutes(table uint32, proto uint8, routes []Route) error {
	return h.deleteRoutes(table, proto, len(routes), func(i int) Route { return routes[i] })
}

// deleteRoutes is DeleteRoutes of n routes, the i-th route(i).
func (h *Handle) deleteRoutes(table uint32, proto uint8, n int, route func(int) Route) error {
	return h.run(batchOp{
		name:  fmt.Sprintf("delete routes table %d", table),
		n:     n,
		order: spread(n),
		build: func(m *msgBuf, i int, seq uint32) int {
			return buildDelRoute(m, seq, table, proto, route(i).Prefix, 0)
		},
		object: func(i int) string { return route(i).Prefix.String() },
		ignore: isNotFound,
	})
}

// isNotFound is true for the errnos of deleting what is already gone.
func isNotFound(e unix.Errno) bool { return e == unix.ESRCH || e == unix.ENOENT }

// buildRoute appends an RTM_NEWROUTE for a single-nexthop route.
func buildRoute(m *msgBuf, typ, flags uint16, seq, table uint32, proto uint8, r Route) int {
	off := m.begin(typ, unix.NLM_F_REQUEST|flags, seq)
	fam := familyOf(r.Prefix.Addr())
	scope, rtype := uint8(unix.RT_SCOPE_UNIVERSE), uint8(unix.RTN_UNICAST)
	switch {
	case r.Nexthop.Object != 0: // the object says blackhole, gateway, device
	case r.Nexthop.Blackhole:
		rtype = unix.RTN_BLACKHOLE
	case !r.Nexthop.Gateway.IsValid():
		scope = unix.RT_SCOPE_LINK
	}
	m.rtmsg(fam, uint8(r.Prefix.Bits()), tableByte(table), proto, scope, rtype)
	m.u32(unix.RTA_TABLE, table)
	if r.Prefix.Bits() > 0 {
		m.addr(unix.RTA_DST, r.Prefix.Addr())
	}
	switch {
	case r.Nexthop.Object != 0:
		m.u32(rtaNHID, r.Nexthop.Object)
	case !r.Nexthop.Blackhole:
		gatewayAttrs(m, fam, r.Nexthop.Gateway, r.Nexthop.LinkIndex)
	}
	m.end(off)
	return off
}

// gatewayAttrs appends RTA_GATEWAY (or RTA_VIA across families) and RTA_OIF.
func gatewayAttrs(m *msgBuf, fam uint8, gw netip.Addr, link int) {
	switch {
	case !gw.IsValid():
	case familyOf(gw) == fam:
		m.addr(unix.RTA_GATEWAY, gw)
	default:
		m.via(gw)
	}
	if link != 0 {
		m.u32(unix.RTA_OIF, uint32(link))
	}
}

// buildDelRoute appends an RTM_DELROUTE. Setting the protocol makes the
// kernel delete only a route of ours; scope NOWHERE and type UNSPEC match any.
func buildDelRoute(m *msgBuf, seq, table uint32, proto uint8, p netip.Prefix, priority uint32) int {
	off := m.begin(unix.RTM_DELROUTE, unix.NLM_F_REQUEST, seq)
	m.rtmsg(familyOf(p.Addr()), uint8(p.Bits()), tableByte(table), proto, rtScopeNowhere, unix.RTN_UNSPEC)
	m.u32(unix.RTA_TABLE, table)
	if p.Bits() > 0 {
		m.addr(unix.RTA_DST, p.Addr())
	}
	if priority != 0 {
		m.u32(unix.RTA_PRIORITY, priority)
	}
	m.end(off)
	return off
}

// tableByte is rtm_table: tables above 255 go only in RTA_TABLE.
func tableByte(table uint32) uint8 {
	if table > 255 {
		return unix.RT_TABLE_COMPAT
	}
	return uint8(table)
}
