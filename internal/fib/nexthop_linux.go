package fib

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the kernel's clock_t nexthop timers (USER_HZ).
const userHZ = 100

func toClock(d time.Duration) uint32 { return uint32(d * userHZ / time.Second) }

func fromClock(c uint64) time.Duration { return time.Duration(c) * time.Second / userHZ }

// buildNexthop appends RTM_NEWNEXTHOP for a nexthop object on a device,
// with a gateway unless gw is invalid (a point-to-point tunnel needs none).
// The kernel requires a device for every non-blackhole nexthop object.
func buildNexthop(m *msgBuf, flags uint16, seq uint32, proto, family uint8, id uint32, gw netip.Addr, link int) int {
	off := m.begin(unix.RTM_NEWNEXTHOP, unix.NLM_F_REQUEST|flags, seq)
	m.nhmsg(family, proto)
	m.u32(unix.NHA_ID, id)
	if gw.IsValid() {
		m.addr(unix.NHA_GATEWAY, gw)
	}
	m.u32(unix.NHA_OIF, uint32(link))
	m.end(off)
	return off
}

// buildBlackhole appends RTM_NEWNEXTHOP for a blackhole nexthop object.
func buildBlackhole(m *msgBuf, seq uint32, proto uint8, id uint32) int {
	off := m.begin(unix.RTM_NEWNEXTHOP, unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_EXCL, seq)
	m.nhmsg(unix.AF_INET, proto)
	m.u32(unix.NHA_ID, id)
	m.attr(unix.NHA_BLACKHOLE, nil)
	m.end(off)
	return off
}

// buildGroup appends RTM_NEWNEXTHOP for a group; res nil makes a plain
// (hash-threshold) group.
func buildGroup(m *msgBuf, flags uint16, seq uint32, proto uint8, id uint32, members []GroupMember, res *Resilient) int {
	off := m.begin(unix.RTM_NEWNEXTHOP, unix.NLM_F_REQUEST|flags, seq)
	m.nhmsg(unix.AF_UNSPEC, proto)
	m.u32(unix.NHA_ID, id)
	m.attr(unix.NHA_GROUP, groupEntries(members))
	if res == nil {
		m.u16(unix.NHA_GROUP_TYPE, nhGroupTypeMpath)
		m.end(off)
		return off
	}
	m.u16(unix.NHA_GROUP_TYPE, nhGroupTypeRes)
	n := m.nest(nhaResGroup)
	m.u16(nhaResGroupBuckets, res.Buckets)
	m.u32(nhaResGroupIdleTimer, toClock(res.IdleTimer))
	m.u32(nhaResGroupUnbalancedTimer, toClock(res.UnbalancedTimer))
	m.endNest(n)
	m.end(off)
	return off
}

// groupEntries lays out struct nexthop_grp entries; the kernel stores weight-1.
func groupEntries(members []GroupMember) []byte {
	b := make([]byte, sizeofNhGroup*len(members))
	for i, gm := range members {
		e := b[i*sizeofNhGroup:]
		ne.PutUint32(e, gm.ID)
		e[4] = uint8(gm.Weight - 1)
		e[5] = uint8((gm.Weight - 1) >> 8) // weight_high (Linux 6.12+), 0 up to 256
	}
	return b
}

// parseNexthop decodes an RTM_NEWNEXTHOP answer.
func parseNexthop(b []byte) (NexthopObject, bool) {
	if len(b) < sizeofNhmsg {
		return NexthopObject{}, false
	}
	o := NexthopObject{Family: int(b[0]), Protocol: b[2]}
	isRes := false
	attrs(b[sizeofNhmsg:], func(typ uint16, d []byte) {
		switch typ {
		case unix.NHA_ID:
			o.ID = ne.Uint32(d)
		case unix.NHA_GATEWAY:
			o.Gateway = addrFrom(d)
		case unix.NHA_OIF:
			o.LinkIndex = int(ne.Uint32(d))
		case unix.NHA_BLACKHOLE:
			o.Blackhole = true
		case unix.NHA_GROUP:
			o.Group = parseGroup(d)
		case unix.NHA_GROUP_TYPE:
			isRes = ne.Uint16(d) == nhGroupTypeRes
		case nhaResGroup:
			o.Resilient = parseResGroup(d)
		}
	})
	switch {
	case !isRes:
		o.Resilient = nil
	case o.Resilient != nil:
		o.Resilient.GroupID = o.ID
	}
	return o, o.ID != 0
}

func parseGroup(d []byte) []GroupMember {
	g := make([]GroupMember, 0, len(d)/sizeofNhGroup)
	for ; len(d) >= sizeofNhGroup; d = d[sizeofNhGroup:] {
		w := int(d[4]) | int(d[5])<<8
		g = append(g, GroupMember{ID: ne.Uint32(d), Weight: w + 1})
	}
	return g
}

func parseResGroup(d []byte) *Resilient {
	r := &Resilient{}
	attrs(d, func(typ uint16, v []byte) {
		switch typ {
		case nhaResGroupBuckets:
			r.Buckets = ne.Uint16(v)
		case nhaResGroupIdleTimer:
			r.IdleTimer = fromClock(uint64(ne.Uint32(v)))
		case nhaResGroupUnbalancedTimer:
			r.UnbalancedTimer = fromClock(uint64(ne.Uint32(v)))
		}
	})
	return r
}

// allNexthops dumps every nexthop object in the namespace, owned or not.
func (h *Handle) allNexthops() ([]NexthopObject, error) {
	var out []NexthopObject
	req := func(m *msgBuf, seq uint32) {
		off := m.begin(unix.RTM_GETNEXTHOP, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
		m.nhmsg(unix.AF_UNSPEC, 0)
		m.end(off)
	}
	err := h.dumpRetry(req, func() { out = out[:0] }, func(msg nlmsg) {
		if o, ok := parseNexthop(msg.data); ok && msg.typ == unix.RTM_NEWNEXTHOP {
			out = append(out, o)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("dump nexthops: %w", err)
	}
	return out, nil
}

// Nexthops returns the nexthop objects uplinkd owns: protocol proto and an
// ID in ids. The kernel cannot filter a nexthop dump by protocol.
func (h *Handle) Nexthops(proto uint8, ids IDRange) ([]NexthopObject, error) {
	all, err := h.allNexthops()
	if err != nil {
		return nil, err
	}
	return owned(all, proto, ids), nil
}

func owned(all []NexthopObject, proto uint8, ids IDRange) []NexthopObject {
	var out []NexthopObject
	for _, o := range all {
		if o.Protocol == proto && ids.Contains(o.ID) {
			out = append(out, o)
		}
	}
	return out
}

// Buckets returns the buckets of resilient group id and the member each maps to.
func (h *Handle) Buckets(id uint32) ([]Bucket, error) {
	var out []Bucket
	req := func(m *msgBuf, seq uint32) {
		off := m.begin(unix.RTM_GETNEXTHOPBUCKET, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
		m.nhmsg(unix.AF_UNSPEC, 0)
		m.u32(unix.NHA_ID, id)
		m.end(off)
	}
	err := h.dumpRetry(req, func() { out = out[:0] }, func(msg nlmsg) {
		if msg.typ == unix.RTM_NEWNEXTHOPBUCKET && len(msg.data) >= sizeofNhmsg {
			attrs(msg.data[sizeofNhmsg:], func(typ uint16, d []byte) {
				if typ == nhaResBkt {
					out = append(out, parseBucket(d))
				}
			})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("dump buckets of nexthop group %d: %w", id, err)
	}
	return out, nil
}

func parseBucket(d []byte) Bucket {
	var b Bucket
	attrs(d, func(typ uint16, v []byte) {
		switch typ {
		case nhaResBucketIndex:
			b.Index = ne.Uint16(v)
		case nhaResBucketNHID:
			b.NexthopID = ne.Uint32(v)
		case nhaResBucketIdleTime:
			b.IdleTime = fromClock(ne.Uint64(v))
		}
	})
	return b
}

// deleteNexthops deletes nexthop objects by ID in one batch; one already
// gone counts as deleted.
func (h *Handle) deleteNexthops(ids []uint32) error {
	return h.run(batchOp{
		name: "delete nexthops",
		n:    len(ids),
		build: func(m *msgBuf, i int, seq uint32) int {
			off := m.begin(unix.RTM_DELNEXTHOP, unix.NLM_F_REQUEST, seq)
			m.nhmsg(unix.AF_UNSPEC, 0)
			m.u32(unix.NHA_ID, ids[i])
			m.end(off)
			return off
		},
		object: func(i int) string { return fmt.Sprintf("nexthop id %d", ids[i]) },
		ignore: isNotFound,
	})
}

// ResilientSupported probes whether this kernel accepts resilient nexthop
// groups, by creating and deleting a blackhole member and a one-member group
// with two free IDs of ids. An error means nexthop objects themselves are
// unusable here (no kernel support, or the loopback device is down).
func (h *Handle) ResilientSupported(proto uint8, ids IDRange) (bool, error) {
	h.op.Lock()
	defer h.op.Unlock()
	all, err := h.allNexthops()
	if err != nil {
		return false, err
	}
	free := freeIDs(all, ids, 2)
	if len(free) < 2 {
		return false, fmt.Errorf("probe resilient groups: no free nexthop id in %d-%d", ids.First, ids.Last)
	}
	member, group := free[0], free[1]
	if err := h.request("probe nexthop object", func(m *msgBuf, seq uint32) int {
		return buildBlackhole(m, seq, proto, member)
	}); err != nil {
		return false, fmt.Errorf("nexthop objects unusable: %w", err)
	}
	defer h.deleteNexthops([]uint32{group, member})
	err = h.request("probe resilient group", func(m *msgBuf, seq uint32) int {
		return buildGroup(m, unix.NLM_F_CREATE|unix.NLM_F_EXCL, seq, proto, group,
			[]GroupMember{{ID: member, Weight: 1}}, &Resilient{Buckets: 8, IdleTimer: defaultIdle})
	})
	var ie ItemError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ie) && (ie.Err == unix.EINVAL || ie.Err == unix.EOPNOTSUPP):
		return false, nil // an unknown group type or attribute: no resilient groups
	}
	return false, fmt.Errorf("probe resilient groups: %w", err)
}

// freeIDs returns up to n IDs of r used by no nexthop object, from the top
// down so they stay clear of group IDs that callers pick from the bottom.
func freeIDs(all []NexthopObject, r IDRange, n int) []uint32 {
	used := make(map[uint32]bool, len(all))
	for _, o := range all {
		used[o.ID] = true
	}
	var out []uint32
	for id := r.Last; id >= r.First && id != 0 && len(out) < n; id-- {
		if !used[id] {
			out = append(out, id)
		}
	}
	return out
}
