package fib

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"
)

// dumpRetries bounds restarts of a dump the kernel flagged inconsistent.
const dumpRetries = 3

// rawRoute is one RTM_NEWROUTE as the kernel reported it.
type rawRoute struct {
	family, proto, rtype uint8
	table                uint32
	prefix               netip.Prefix
	gw                   netip.Addr
	oif                  int
	priority             uint32
	nhID                 uint32
	multipath            []byte // RTA_MULTIPATH payload, aliasing the receive buffer
}

// single reports whether the route has one plain nexthop (what Sync owns).
func (r *rawRoute) single() bool {
	return r.nhID == 0 && r.multipath == nil && (r.rtype == unix.RTN_UNICAST || r.rtype == unix.RTN_BLACKHOLE)
}

// viaObject reports whether the route points at one of a ViaSet's nexthop
// objects (Sync owns it too). The kernel adds the object's gateway and
// device unless nexthop_compat_mode is off; Sync compares the object ID.
func (r *rawRoute) viaObject() bool {
	return ViaObjects.Contains(r.nhID) && r.multipath == nil && r.rtype == unix.RTN_UNICAST
}

// nexthop returns a single-path route's nexthop.
func (r *rawRoute) nexthop() Nexthop {
	if r.rtype == unix.RTN_BLACKHOLE {
		return Nexthop{Blackhole: true}
	}
	return Nexthop{Gateway: r.gw, LinkIndex: r.oif, Object: r.nhID}
}

// Dump returns the single-nexthop routes of proto in table, both families,
// those through a ViaSet's nexthop objects included. Multipath routes and
// routes via other nexthop objects are left out: they belong to
// SetMultipath and SetResilient, and Sync must never delete them.
func (h *Handle) Dump(table uint32, proto uint8) ([]Route, error) {
	// Sized like the last dump: growing a slice to ~1 M routes step by step
	// costs more than parsing them.
	hint, _ := h.dumpHints.Load(table)
	n, _ := hint.(int)
	out := make([]Route, 0, n)
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		n := len(out)
		err := h.dumpRoutes(routeFilter{family: fam, table: table, proto: proto}, func() { out = out[:n] }, func(r *rawRoute) {
			if !r.single() && !r.viaObject() {
				return
			}
			if len(out) == cap(out) {
				// Double: append grows large slices by 1.25x, copying a
				// ~1 M route set dozens of times on a first dump.
				out = slices.Grow(out, max(len(out), 1024))
			}
			out = append(out, Route{Prefix: r.prefix, Nexthop: r.nexthop()})
		})
		if err != nil {
			return nil, fmt.Errorf("dump routes table %d proto %d: %w", table, proto, err)
		}
	}
	h.dumpHints.Store(table, len(out))
	return out, nil
}

// routeFilter selects the routes a dump returns.
type routeFilter struct {
	family uint8
	table  uint32
	proto  uint8
	// oif, if set, keeps routes with a nexthop on that device, nexthop groups
	// included. Only an optimization: callers still match the prefix, so a
	// kernel that ignores it costs time, not correctness.
	oif int
}

// dumpRoutes calls fn for every route f selects. The kernel filters by
// table and protocol (strict checking); the check here covers kernels that
// ignore the filter. reset is called before a retried dump.
func (h *Handle) dumpRoutes(f routeFilter, reset func(), fn func(*rawRoute)) error {
	req := func(m *msgBuf, seq uint32) {
		off := m.begin(unix.RTM_GETROUTE, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
		m.rtmsg(f.family, 0, tableByte(f.table), f.proto, 0, 0)
		m.u32(unix.RTA_TABLE, f.table)
		if f.oif != 0 {
			m.u32(unix.RTA_OIF, uint32(f.oif))
		}
		m.end(off)
	}
	var r rawRoute
	err := h.dumpRetry(req, reset, func(msg nlmsg) {
		if msg.typ == unix.RTM_NEWROUTE && parseRoute(msg.data, &r) && r.table == f.table && r.proto == f.proto {
			fn(&r)
		}
	})
	if errors.Is(err, unix.ENOENT) {
		return nil // the kernel creates a table with its first route: none yet
	}
	return err
}

// parseRoute decodes an rtmsg and its attributes into r.
func parseRoute(b []byte, r *rawRoute) bool {
	if len(b) < unix.SizeofRtMsg {
		return false
	}
	*r = rawRoute{family: b[0], proto: b[5], rtype: b[7], table: uint32(b[4])}
	dst, dstLen := zeroAddr(b[0]), int(b[1])
	attrs(b[unix.SizeofRtMsg:], func(typ uint16, d []byte) {
		switch typ {
		case unix.RTA_DST:
			dst = addrFrom(d)
		case unix.RTA_TABLE:
			r.table = ne.Uint32(d)
		case unix.RTA_GATEWAY:
			r.gw = addrFrom(d)
		case unix.RTA_VIA:
			if len(d) > 2 {
				r.gw = addrFrom(d[2:])
			}
		case unix.RTA_OIF:
			r.oif = int(ne.Uint32(d))
		case unix.RTA_PRIORITY:
			r.priority = ne.Uint32(d)
		case rtaNHID:
			r.nhID = ne.Uint32(d)
		case unix.RTA_MULTIPATH:
			r.multipath = d
		}
	})
	p, err := dst.Prefix(dstLen)
	r.prefix = p
	return err == nil
}

// dumpRetry runs a dump, restarting it when the kernel says a concurrent
// change made it inconsistent.
func (h *Handle) dumpRetry(req func(*msgBuf, uint32), reset func(), fn func(nlmsg)) error {
	for try := 0; ; try++ {
		if reset != nil {
			reset()
		}
		err := h.dump(req, fn)
		if !errors.Is(err, errDumpInterrupted) || try == dumpRetries {
			return err
		}
	}
}

// dump sends one dump request and passes every answer to fn until NLMSG_DONE.
func (h *Handle) dump(req func(*msgBuf, uint32), fn func(nlmsg)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := &h.wbuf
	m.b = m.b[:0]
	st := dumpState{seq: h.nextSeq(1), fn: fn}
	req(m, st.seq)
	if err := h.send(m.b); err != nil {
		return err
	}
	for !st.done {
		b, err := h.recv()
		if err != nil {
			return err
		}
		if err := messages(b, st.handle); err != nil {
			return err
		}
	}
	if st.err == nil && st.intr {
		return errDumpInterrupted
	}
	return st.err
}

// dumpState follows one dump's answers.
type dumpState struct {
	seq        uint32
	fn         func(nlmsg)
	done, intr bool
	err        error
}

// handle takes one message: data for fn, or the end of the dump.
func (st *dumpState) handle(msg nlmsg) error {
	if msg.seq != st.seq {
		return nil // a late answer to an earlier request
	}
	st.intr = st.intr || msg.flags&unix.NLM_F_DUMP_INTR != 0
	switch msg.typ {
	case unix.NLMSG_DONE:
		st.done = true
		st.err = doneErr(msg)
	case unix.NLMSG_ERROR:
		st.done = true
		if a := parseAck(msg); a.errno != 0 {
			st.err = ItemError{Object: "dump", Err: a.errno, Msg: a.msg}
		}
	default:
		st.fn(msg)
	}
	return nil
}

// doneErr decodes the error a dump may end with.
func doneErr(msg nlmsg) error {
	if len(msg.data) >= 4 {
		if e := unix.Errno(-int32(ne.Uint32(msg.data))); e != 0 {
			return e
		}
	}
	return nil
}
