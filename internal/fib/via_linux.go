package fib

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// objectFamily is one family of a ViaSet as its nexthop object sees it.
type objectFamily struct {
	family uint8
	id     uint32
	nh     *Nexthop
	used   bool // the set has prefixes of this family
}

// objectFamilies returns v's two families in table; none when the table
// has no nexthop object IDs.
func objectFamilies(table uint32, v *ViaSet) []objectFamily {
	id4, id6, ok := ViaObjectIDs(table)
	if !ok {
		return nil
	}
	fs := []objectFamily{{family: unix.AF_INET, id: id4, nh: &v.Nexthop4}, {family: unix.AF_INET6, id: id6, nh: &v.Nexthop6}}
	for _, p := range v.Prefixes {
		if p.Addr().Is4() {
			fs[0].used = true
		} else {
			fs[1].used = true
		}
		if fs[0].used && fs[1].used {
			break
		}
	}
	return fs
}

// objectFits reports whether a family's nexthop can be a nexthop object:
// the kernel wants a device, and a gateway of the routes' own family keeps
// to what every kernel with nexthop objects accepts.
func (f objectFamily) objectFits() bool {
	nh := f.nh
	return f.used && !nh.Blackhole && nh.LinkIndex != 0 && (!nh.Gateway.IsValid() || familyOf(nh.Gateway) == f.family)
}

// ensureVia makes the nexthop object of each family of v that can have one
// hold its nexthop (created, or changed in place, which moves every route
// on it at once) and returns v with those families' Object set. A family
// whose object cannot be made (an ID held by something not ours, a kernel
// without nexthop objects) keeps plain routes: the routes still go in,
// and their own errors say what is wrong with the nexthop.
// It also returns the nexthop dump it read (nil if it could not, and then
// every family keeps plain routes), which dropVia reuses: the objects it
// may drop are ones ensureVia left alone.
func (h *Handle) ensureVia(table uint32, proto uint8, v ViaSet) (ViaSet, []NexthopObject) {
	v.Nexthop4.Object, v.Nexthop6.Object = 0, 0
	all, err := h.allNexthops()
	if err != nil {
		return v, nil
	}
	for _, f := range objectFamilies(table, &v) {
		if !f.objectFits() {
			continue
		}
		cur, found := findID(all, f.id)
		switch {
		case found && !viaObjectOurs(cur, proto):
			continue
		case found && viaObjectHolds(cur, f):
			f.nh.Object = f.id
			continue
		}
		flags := uint16(unix.NLM_F_CREATE | unix.NLM_F_EXCL)
		if found {
			flags = unix.NLM_F_REPLACE
		}
		err := h.request(fmt.Sprintf("nexthop id %d %s", f.id, f.nh), func(m *msgBuf, seq uint32) int {
			return buildNexthop(m, flags, seq, proto, f.family, f.id, f.nh.Gateway, f.nh.LinkIndex)
		})
		if err == nil {
			f.nh.Object = f.id
		}
	}
	return v, all
}

// viaObjectOurs: a single nexthop object of ours, which ensureVia may change.
func viaObjectOurs(o NexthopObject, proto uint8) bool {
	return o.Protocol == proto && o.Group == nil
}

func viaObjectHolds(o NexthopObject, f objectFamily) bool {
	return o.Family == int(f.family) && !o.Blackhole && o.Gateway == f.nh.Gateway && o.LinkIndex == f.nh.LinkIndex
}

// dropVia deletes the nexthop objects of table's families that v no longer
// routes through (no prefixes, or plain routes now). Only after a Sync that
// fully landed: the kernel deletes every route still on an object with it.
// all is a nexthop dump taken before (ensureVia's), or nil to take one.
func (h *Handle) dropVia(table uint32, proto uint8, v ViaSet, all []NexthopObject) error {
	if all == nil {
		var err error
		all, err = h.allNexthops()
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
			return nil // a kernel without nexthop objects: none of ours to drop
		}
		if err != nil {
			return err
		}
	}
	var gone []uint32
	for _, f := range objectFamilies(table, &v) {
		if cur, found := findID(all, f.id); found && f.nh.Object == 0 && viaObjectOurs(cur, proto) {
			gone = append(gone, f.id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return h.deleteNexthops(gone)
}
