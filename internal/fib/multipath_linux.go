package fib

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// sizeofRtNexthop is struct rtnexthop: len, flags, hops, ifindex.
const sizeofRtNexthop = unix.SizeofRtNexthop

// SetMultipath installs or replaces a plain RTA_MULTIPATH route, the
// fallback where resilient groups are missing. It changes nothing when the
// route already has these nexthops; no nexthops deletes the route.
// A one-nexthop route reads back like a Sync route: keep multipath routes
// out of tables that Sync manages.
func (h *Handle) SetMultipath(mp Multipath) error { return h.setMultipath(mp, true) }

// ReplaceMultipath is SetMultipath without its read of the route first,
// for a caller whose own record says the route differs (a failover's
// return tables): one round trip instead of two. No nexthops deletes it.
func (h *Handle) ReplaceMultipath(mp Multipath) error { return h.setMultipath(mp, false) }

// setMultipath writes mp; read first skips a write the kernel already has.
func (h *Handle) setMultipath(mp Multipath, read bool) error {
	if err := validateMultipath(mp, false); err != nil {
		return err
	}
	h.op.Lock()
	defer h.op.Unlock()
	mp.Prefix = mp.Prefix.Masked()
	if len(mp.Nexthops) == 0 {
		return h.DeleteRoutes(mp.Table, mp.Protocol, []Route{{Prefix: mp.Prefix}})
	}
	if read {
		cur, found, err := h.current(mp)
		if err != nil {
			return err
		}
		if found && cur.GroupID == 0 && sameNexthops(mp.Nexthops, cur.Nexthops) {
			return nil
		}
	}
	return h.request(fmt.Sprintf("set multipath route %s table %d", mp.Prefix, mp.Table), func(m *msgBuf, seq uint32) int {
		return buildMultipathRoute(m, seq, mp)
	})
}

// buildMultipathRoute appends an RTM_NEWROUTE with RTA_MULTIPATH; the
// kernel stores weight-1 in rtnh_hops.
func buildMultipathRoute(m *msgBuf, seq uint32, mp Multipath) int {
	off := routeHeader(m, seq, mp.Table, mp.Protocol, mp.Prefix)
	fam := familyOf(mp.Prefix.Addr())
	mpOff := m.nest(unix.RTA_MULTIPATH)
	for _, nh := range mp.Nexthops {
		rtnh := len(m.b)
		m.b = append(m.b, make([]byte, sizeofRtNexthop)...)
		m.b[rtnh+3] = uint8(nh.Weight - 1)
		ne.PutUint32(m.b[rtnh+4:], uint32(nh.LinkIndex))
		gatewayAttrs(m, fam, nh.Gateway, 0)
		ne.PutUint16(m.b[rtnh:], uint16(len(m.b)-rtnh))
	}
	m.endNest(mpOff)
	m.end(off)
	return off
}

// routeHeader starts an RTM_NEWROUTE (create or replace) for a unicast
// route in table, marked with proto.
func routeHeader(m *msgBuf, seq, table uint32, proto uint8, p netip.Prefix) int {
	off := m.begin(unix.RTM_NEWROUTE, unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_REPLACE, seq)
	m.rtmsg(familyOf(p.Addr()), uint8(p.Bits()), tableByte(table), proto, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST)
	m.u32(unix.RTA_TABLE, table)
	if p.Bits() > 0 {
		m.addr(unix.RTA_DST, p.Addr())
	}
	return off
}

// Multipath reads back the route of proto for prefix in table with its
// nexthops and weights, resolving a nexthop group into its members.
func (h *Handle) Multipath(table uint32, proto uint8, prefix netip.Prefix) (MultipathState, bool, error) {
	return h.find(routeFilter{family: familyOf(prefix.Addr()), table: table, proto: proto}, prefix)
}

// current reads back mp's route, as cheaply as it can: with the device of
// one of mp's nexthops, the kernel returns only routes using that device,
// not the ~1 M breakout routes that may share the table. If mp's route is
// not among them it does not have the wanted nexthops, so not finding it
// is as good as finding it different: both mean "set it".
func (h *Handle) current(mp Multipath) (MultipathState, bool, error) {
	f := routeFilter{family: familyOf(mp.Prefix.Addr()), table: mp.Table, proto: mp.Protocol}
	if len(mp.Nexthops) > 0 {
		f.oif = mp.Nexthops[0].LinkIndex
	}
	return h.find(f, mp.Prefix)
}

// find returns the route for prefix among those f selects.
func (h *Handle) find(f routeFilter, prefix netip.Prefix) (MultipathState, bool, error) {
	all, err := h.multipaths(f)
	if err != nil {
		return MultipathState{}, false, err
	}
	for _, st := range all {
		if st.Prefix == prefix.Masked() {
			return st, true, nil
		}
	}
	return MultipathState{}, false, nil
}

// Multipaths lists the routes of proto in table, both families, that have
// weighted nexthops: RTA_MULTIPATH routes, routes via a nexthop group, and
// one-nexthop unicast routes (weight 1).
func (h *Handle) Multipaths(table uint32, proto uint8) ([]MultipathState, error) {
	v4, err := h.multipaths(routeFilter{family: unix.AF_INET, table: table, proto: proto})
	if err != nil {
		return nil, err
	}
	v6, err := h.multipaths(routeFilter{family: unix.AF_INET6, table: table, proto: proto})
	return append(v4, v6...), err
}

// multipaths is Multipaths for the routes f selects.
func (h *Handle) multipaths(f routeFilter) ([]MultipathState, error) {
	var out []MultipathState
	viaGroup := false
	err := h.dumpRoutes(f, func() { out = out[:0] }, func(r *rawRoute) {
		if r.rtype != unix.RTN_UNICAST {
			return
		}
		st := MultipathState{Prefix: r.prefix, GroupID: r.nhID}
		switch {
		case r.nhID != 0:
			viaGroup = true
		case r.multipath != nil:
			st.Nexthops = parseMultipath(r.multipath)
		default:
			st.Nexthops = []WeightedNexthop{{Gateway: r.gw, LinkIndex: r.oif, Weight: 1}}
		}
		out = append(out, st)
	})
	if err != nil {
		return nil, fmt.Errorf("read multipath routes table %d: %w", f.table, err)
	}
	if viaGroup {
		err = h.resolveGroups(out)
	}
	return out, err
}

// parseMultipath decodes RTA_MULTIPATH's rtnexthop entries.
func parseMultipath(b []byte) []WeightedNexthop {
	var out []WeightedNexthop
	for len(b) >= sizeofRtNexthop {
		l := int(ne.Uint16(b))
		if l < sizeofRtNexthop || l > len(b) {
			break
		}
		nh := WeightedNexthop{Weight: int(b[3]) + 1, LinkIndex: int(ne.Uint32(b[4:]))}
		attrs(b[sizeofRtNexthop:l], func(typ uint16, d []byte) {
			switch typ {
			case unix.RTA_GATEWAY:
				nh.Gateway = addrFrom(d)
			case unix.RTA_VIA:
				if len(d) > 2 {
					nh.Gateway = addrFrom(d[2:])
				}
			}
		})
		out = append(out, nh)
		b = b[min(align(l), len(b)):]
	}
	return out
}

// resolveGroups fills the nexthops of routes that point to a group.
func (h *Handle) resolveGroups(sts []MultipathState) error {
	all, err := h.allNexthops()
	if err != nil {
		return err
	}
	byID := make(map[uint32]NexthopObject, len(all))
	for _, o := range all {
		byID[o.ID] = o
	}
	for i := range sts {
		if g, ok := byID[sts[i].GroupID]; ok && sts[i].GroupID != 0 {
			sts[i].Nexthops = groupNexthops(g, byID)
		}
	}
	return nil
}

// groupNexthops maps a group's members to their gateways and devices.
func groupNexthops(g NexthopObject, byID map[uint32]NexthopObject) []WeightedNexthop {
	if g.Group == nil { // a route straight to one nexthop object
		return []WeightedNexthop{{Gateway: g.Gateway, LinkIndex: g.LinkIndex, Weight: 1}}
	}
	out := make([]WeightedNexthop, 0, len(g.Group))
	for _, gm := range g.Group {
		o := byID[gm.ID]
		out = append(out, WeightedNexthop{Gateway: o.Gateway, LinkIndex: o.LinkIndex, Weight: gm.Weight})
	}
	return out
}
