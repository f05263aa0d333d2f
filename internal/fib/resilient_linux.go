package fib

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults of a resilient group, the kernel's own.
const (
	defaultBuckets = 128
	defaultIdle    = 120 * time.Second
)

// withDefaults fills zero fields the way the kernel would, so that a group
// read back compares equal to the config it came from.
func (r Resilient) withDefaults() Resilient {
	if r.Buckets == 0 {
		r.Buckets = defaultBuckets
	}
	if r.IdleTimer == 0 {
		r.IdleTimer = defaultIdle
	}
	return r
}

// SetResilient makes mp's route use resilient nexthop group res.GroupID with
// mp.Nexthops as members: member objects are created or reused (IDs from ids,
// protocol mp.Protocol), the group is created or updated in place, and the
// route is pointed at it only if it is not already. Updating the members of
// an existing group leaves the group ID and the route untouched, so the
// kernel moves only the flows of members that left. No nexthops removes the
// route and the group. Unreferenced member objects are deleted last.
//
// Cost: a member leaving is one object delete (~100 µs) and lands before the
// route is read back; any other group change makes the kernel walk every
// IPv4 route of the namespace (~2 ms per 100 k). The read-back walks the
// route's table, so keep ECMP routes out of the breakout table.
func (h *Handle) SetResilient(mp Multipath, ids IDRange, res Resilient) error {
	if err := validateResilient(mp, ids, res); err != nil {
		return err
	}
	h.op.Lock()
	defer h.op.Unlock()
	mp.Prefix = mp.Prefix.Masked()
	if len(mp.Nexthops) == 0 {
		return h.removeResilient(mp, ids, res.GroupID)
	}
	all, err := h.allNexthops()
	if err != nil {
		return err
	}
	members, err := h.ensureMembers(mp, ids, res.GroupID, all)
	if err != nil {
		// Members created for a group that never took them must not linger.
		return errors.Join(err, h.collectGarbage(mp.Protocol, ids))
	}
	g, err := h.ensureGroup(mp.Protocol, res, members, all)
	if err == nil && g == groupShrunk {
		// A failover: members left and nothing else changed. The route
		// already uses the group and the members left are deleted, so
		// there is nothing to check or collect; each round trip saved is
		// time the dead tunnel still holds flows.
		return nil
	}
	if err == nil {
		err = h.ensureRoute(mp, res.GroupID, g == groupRecreated)
	}
	return errors.Join(err, h.collectGarbage(mp.Protocol, ids))
}

// SetResilientMany is SetResilient for several routes (res[i] is mps[i]'s
// group) in the fewest round trips for a failover: one nexthop dump, then
// the leaving members of every route whose change is only members leaving
// (see SetResilient) deleted in one batch, with how.Steer steered to
// survivors first in another (see steerTargets). The other routes are set
// one by one as SetResilient sets them. It returns each route's error, nil
// where it landed. A tunnel going down takes a member out of the IPv4 and
// of the IPv6 default's group: two round trips (three steered), where
// route by route took four and waited for two of the kernel's grace
// periods.
//
// away is when how.Between returned, if every member leaving had been
// steered and no route was left to set one by one: from then on no route
// of the call (nor what Between wrote) forwarded through a member that
// left. It is zero otherwise. Until the deletes, a steered member
// duplicates its target's path: the caller keeps other writers off these
// groups for the call (the ecmp controller holds its lock), or one could
// take it for the target.
func (h *Handle) SetResilientMany(mps []Multipath, ids IDRange, res []Resilient, how Shrink) (errs []error, away time.Time) {
	errs = make([]error, len(mps))
	sh := h.steerMany(mps, ids, res, errs, how.Steer)
	if how.Between != nil {
		how.Between()
	}
	if sh.steered {
		away = time.Now()
	}
	if err := h.deleteLeaving(sh.gone); err != nil {
		for _, i := range sh.shrunk {
			errs[i] = err
		}
	}
	for _, i := range sh.rest {
		errs[i] = h.SetResilient(mps[i], ids, res[i])
	}
	if len(sh.rest) > 0 || errors.Join(errs...) != nil {
		away = time.Time{}
	}
	return errs, away
}

// shrink is what steerMany found and did: the members to delete (gone),
// the routes whose groups lose them (shrunk), the routes to set one by
// one (rest), and whether every member in gone was steered.
type shrink struct {
	gone         []uint32
	shrunk, rest []int
	steered      bool
}

// steerMany finds the members leaving the groups of the routes whose
// change is only that, setting errs of the routes it refuses, and, with
// steer, steers them to survivors. A member shared by several groups (a device-only
// one, see memberFamily) leaves by a delete only when every group holding
// it is among those shrinking and drops it: deleting the object takes it
// out of all of them at once, one grace period of the kernel's for both
// defaults instead of one each.
func (h *Handle) steerMany(mps []Multipath, ids IDRange, res []Resilient, errs []error, steer bool) shrink {
	h.op.Lock()
	defer h.op.Unlock()
	all, err := h.allNexthops()
	if err != nil {
		for i := range mps {
			errs[i] = err
		}
		return shrink{}
	}
	var sh shrink
	leaving := map[int][]uint32{}
	for i, mp := range mps {
		if errs[i] = validateResilient(mp, ids, res[i]); errs[i] != nil {
			continue
		}
		g, ok := leavingOnly(mp, ids, res[i], all)
		if !ok {
			sh.rest = append(sh.rest, i)
			continue
		}
		leaving[i] = g
	}
	var more []int
	sh.gone, sh.shrunk, more = sharedLeaving(leaving, all)
	sh.rest = append(sh.rest, more...)
	slices.Sort(sh.rest)
	if !steer {
		return sh
	}
	targets := steerTargets(sh.gone, leaving, sh.shrunk, res, all)
	// A steer refused changes nothing the delete does not finish: it
	// only costs the grace period it would have saved.
	err = h.steer(targets, all)
	sh.steered = err == nil && len(sh.gone) > 0 && len(targets) == len(sh.gone)
	return sh
}

// deleteLeaving deletes the members steerMany found leaving; one gone
// meanwhile counts as deleted.
func (h *Handle) deleteLeaving(gone []uint32) error {
	h.op.Lock()
	defer h.op.Unlock()
	return h.deleteNexthops(gone)
}

// sharedLeaving splits the routes whose groups only lose members
// (leaving: route index → member IDs) into those whose members can go by
// deleting them (gone, once each; shrunk) and those that cannot (rest): a
// member that some group outside leaving still holds must stay, so the
// routes dropping it are set one by one, their groups replaced.
func sharedLeaving(leaving map[int][]uint32, all []NexthopObject) (gone []uint32, shrunk, rest []int) {
	dropping := map[uint32]int{}
	for _, ids := range leaving {
		for _, id := range ids {
			dropping[id]++
		}
	}
	for _, i := range slices.Sorted(maps.Keys(leaving)) {
		ok := true
		for _, id := range leaving[i] {
			ok = ok && groupsUsing(all, id) == dropping[id]
		}
		if ok {
			shrunk = append(shrunk, i)
		} else {
			rest = append(rest, i)
		}
	}
	seen := map[uint32]bool{}
	for _, i := range shrunk {
		for _, id := range leaving[i] {
			if !seen[id] {
				seen[id] = true
				gone = append(gone, id)
			}
		}
	}
	return gone, shrunk, rest
}

// leavingOnly reports whether taking mp's group to its nexthops is only
// members leaving, and returns them: every nexthop of mp is a member
// already, at its weight. Whether another group holds a leaving member
// is for the caller to judge.
func leavingOnly(mp Multipath, ids IDRange, res Resilient, all []NexthopObject) ([]uint32, bool) {
	if len(mp.Nexthops) == 0 {
		return nil, false
	}
	mp.Prefix = mp.Prefix.Masked()
	cur, exists := findID(all, res.GroupID)
	res = res.withDefaults()
	if !exists || cur.Protocol != mp.Protocol || cur.Group == nil || cur.Resilient == nil || cur.Resilient.Buckets != res.Buckets {
		return nil, false
	}
	mine := owned(all, mp.Protocol, ids)
	members := make([]GroupMember, len(mp.Nexthops))
	for i, nh := range mp.Nexthops {
		id, ok := findMember(mine, memberFamily(nh), nh)
		if !ok {
			return nil, false
		}
		members[i] = GroupMember{ID: id, Weight: nh.Weight}
	}
	return membersLeaving(cur, res, members)
}

// groupChange is what ensureGroup did.
type groupChange int

const (
	groupKept      groupChange = iota // already as wanted, or updated in place
	groupShrunk                       // members deleted, nothing else changed
	groupRecreated                    // deleted and created again: its routes went with it
)

func validateResilient(mp Multipath, ids IDRange, res Resilient) error {
	if !ids.Contains(res.GroupID) || res.GroupID == 0 {
		return fmt.Errorf("resilient route %s: group id %d outside the owned range %d-%d", mp.Prefix, res.GroupID, ids.First, ids.Last)
	}
	return validateMultipath(mp, true)
}

// ensureMembers returns the group entries for mp's nexthops, reusing owned
// objects with the same gateway and device (an unchanged member must keep
// its ID, or its buckets would move) and creating the missing ones.
func (h *Handle) ensureMembers(mp Multipath, ids IDRange, groupID uint32, all []NexthopObject) ([]GroupMember, error) {
	mine := owned(all, mp.Protocol, ids)
	free := freeIDs(append(all, NexthopObject{ID: groupID}), ids, len(mp.Nexthops))
	members := make([]GroupMember, len(mp.Nexthops))
	var create []int
	for i, nh := range mp.Nexthops {
		if id, ok := findMember(mine, memberFamily(nh), nh); ok {
			members[i] = GroupMember{ID: id, Weight: nh.Weight}
			continue
		}
		if len(free) == 0 {
			return nil, fmt.Errorf("resilient route %s: no free nexthop id in %d-%d", mp.Prefix, ids.First, ids.Last)
		}
		members[i] = GroupMember{ID: free[0], Weight: nh.Weight}
		free = free[1:]
		create = append(create, i)
	}
	err := h.run(batchOp{
		name: fmt.Sprintf("create nexthops for %s", mp.Prefix),
		n:    len(create),
		build: func(m *msgBuf, i int, seq uint32) int {
			nh := mp.Nexthops[create[i]]
			return buildNexthop(m, unix.NLM_F_CREATE|unix.NLM_F_EXCL, seq, mp.Protocol, memberFamily(nh), members[create[i]].ID, nh.Gateway, nh.LinkIndex)
		},
		object: func(i int) string { return mp.Nexthops[create[i]].String() },
	})
	return members, err
}

// memberFamily is a member object's family: its gateway's, or IPv6 for a
// device-only member. The kernel lets an IPv4 route use an IPv6 object but
// not the other way round, so one device-only object per device serves
// the groups of both families: a tunnel leaving both defaults is then one
// object deleted, and one expedited RCU grace period of the kernel's
// (each delete of an object in a group waits for one: 1-13 ms measured
// under load), not two. The device needs IPv6 (an MTU of 1280 or more).
func memberFamily(nh WeightedNexthop) uint8 {
	if nh.Gateway.IsValid() {
		return familyOf(nh.Gateway)
	}
	return unix.AF_INET6
}

// findMember finds an owned single nexthop object for nh.
func findMember(mine []NexthopObject, family uint8, nh WeightedNexthop) (uint32, bool) {
	for _, o := range mine {
		if o.Group == nil && !o.Blackhole && o.Family == int(family) && o.Gateway == nh.Gateway && o.LinkIndex == nh.LinkIndex {
			return o.ID, true
		}
	}
	return 0, false
}

// ensureGroup creates the group, updates its members in place, or leaves it
// alone when it already matches. Only a change of bucket count or of group
// type forces a new group (the kernel cannot change those in place); that
// also deletes the routes using it, so it reports recreated.
func (h *Handle) ensureGroup(proto uint8, res Resilient, members []GroupMember, all []NexthopObject) (groupChange, error) {
	cur, exists := findID(all, res.GroupID)
	switch {
	case exists && cur.Protocol != proto:
		return groupKept, fmt.Errorf("nexthop group %d: id in use by protocol %d", res.GroupID, cur.Protocol)
	case exists && cur.Group == nil:
		// Replacing it would pull a member out of some other group.
		return groupKept, fmt.Errorf("nexthop group %d: id in use by a member nexthop; pick group ids from the bottom of the range", res.GroupID)
	}
	name := fmt.Sprintf("nexthop group %d", res.GroupID)
	flags := uint16(unix.NLM_F_CREATE | unix.NLM_F_EXCL)
	res = res.withDefaults()
	change := groupKept
	switch {
	case exists && groupMatches(cur, res, members):
		return groupKept, nil
	case exists && cur.Resilient != nil && cur.Resilient.Buckets == res.Buckets:
		if gone, ok := onlyLeaving(cur, res, members, all); ok {
			// Deleting a member object shrinks its group as the kernel does
			// for a vanished device: ~100 µs. A group replace makes the
			// kernel walk every IPv4 route (~10 ms per 300 k routes).
			if err := h.deleteNexthops(gone); err != nil {
				return groupKept, err
			}
			return groupShrunk, nil
		}
		flags = unix.NLM_F_REPLACE
	case exists:
		if err := h.deleteNexthops([]uint32{res.GroupID}); err != nil {
			return groupKept, err
		}
		change = groupRecreated
	}
	return change, h.request(name, func(m *msgBuf, seq uint32) int {
		return buildGroup(m, flags, seq, proto, res.GroupID, members, &res)
	})
}

// onlyLeaving reports whether going from cur to members only drops members
// that no other group uses, everything else unchanged, and returns them.
func onlyLeaving(cur NexthopObject, res Resilient, members []GroupMember, all []NexthopObject) ([]uint32, bool) {
	gone, ok := membersLeaving(cur, res, members)
	if !ok {
		return nil, false
	}
	for _, id := range gone {
		if groupsUsing(all, id) > 1 {
			return nil, false
		}
	}
	return gone, true
}

// membersLeaving reports whether going from cur to members only drops
// members, everything else unchanged, and returns them.
func membersLeaving(cur NexthopObject, res Resilient, members []GroupMember) ([]uint32, bool) {
	if *cur.Resilient != res || len(members) >= len(cur.Group) {
		return nil, false
	}
	keep := make(map[GroupMember]bool, len(members))
	for _, gm := range members {
		keep[gm] = true
	}
	var gone []uint32
	for _, gm := range cur.Group {
		if !keep[gm] {
			gone = append(gone, gm.ID)
		}
	}
	if len(cur.Group)-len(gone) != len(members) { // a weight changed, or a member is new
		return nil, false
	}
	return gone, true
}

// groupsUsing counts the groups that have nexthop id as a member.
func groupsUsing(all []NexthopObject, id uint32) int {
	n := 0
	for _, o := range all {
		for _, gm := range o.Group {
			if gm.ID == id {
				n++
			}
		}
	}
	return n
}

// groupMatches reports whether an existing group already is what res
// (defaults applied) and members describe.
func groupMatches(cur NexthopObject, res Resilient, members []GroupMember) bool {
	return cur.Resilient != nil && *cur.Resilient == res && sameMembers(cur.Group, members)
}

func findID(all []NexthopObject, id uint32) (NexthopObject, bool) {
	for _, o := range all {
		if o.ID == id {
			return o, true
		}
	}
	return NexthopObject{}, false
}

// ensureRoute points mp's route at the group unless it already does.
func (h *Handle) ensureRoute(mp Multipath, groupID uint32, recreated bool) error {
	if !recreated {
		cur, found, err := h.current(mp)
		if err != nil {
			return err
		}
		if found && cur.GroupID == groupID {
			return nil
		}
	}
	return h.request(fmt.Sprintf("route %s table %d via nexthop group %d", mp.Prefix, mp.Table, groupID), func(m *msgBuf, seq uint32) int {
		off := routeHeader(m, seq, mp.Table, mp.Protocol, mp.Prefix)
		m.u32(rtaNHID, groupID)
		m.end(off)
		return off
	})
}

// removeResilient deletes the route, then its group, then orphaned members.
func (h *Handle) removeResilient(mp Multipath, ids IDRange, groupID uint32) error {
	errRoute := h.DeleteRoutes(mp.Table, mp.Protocol, []Route{{Prefix: mp.Prefix}})
	return errors.Join(errRoute, h.removeGroup(mp.Protocol, ids, groupID))
}

// RemoveGroup deletes owned nexthop group groupID and the member objects no
// other group uses. Routes still using the group go with it (the kernel's
// rule), so move them first, e.g. with SetMultipath when falling back.
func (h *Handle) RemoveGroup(proto uint8, ids IDRange, groupID uint32) error {
	h.op.Lock()
	defer h.op.Unlock()
	return h.removeGroup(proto, ids, groupID)
}

func (h *Handle) removeGroup(proto uint8, ids IDRange, groupID uint32) error {
	errGroup := h.deleteOwned(proto, ids, groupID)
	return errors.Join(errGroup, h.collectGarbage(proto, ids))
}

// deleteOwned deletes nexthop object id if it is ours.
func (h *Handle) deleteOwned(proto uint8, ids IDRange, id uint32) error {
	mine, err := h.Nexthops(proto, ids)
	if err != nil {
		return err
	}
	if _, ok := findID(mine, id); !ok {
		return nil
	}
	return h.deleteNexthops([]uint32{id})
}

// collectGarbage deletes owned single nexthop objects that no group uses.
// Deleting one still in a group would silently shrink that group.
func (h *Handle) collectGarbage(proto uint8, ids IDRange) error {
	all, err := h.allNexthops()
	if err != nil {
		return err
	}
	used := map[uint32]bool{}
	for _, o := range all {
		for _, gm := range o.Group {
			used[gm.ID] = true
		}
	}
	var orphans []uint32
	for _, o := range owned(all, proto, ids) {
		if o.Group == nil && !used[o.ID] {
			orphans = append(orphans, o.ID)
		}
	}
	return h.deleteNexthops(orphans)
}
