package fib

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// A member leaving a resilient group takes one of the kernel's expedited
// RCU grace periods to delete: the kernel waits for every CPU to pass a
// quiescent state before it frees the group's old member array (1-13 ms
// measured on 2 busy vCPUs, the tail of a failover). Replacing a member
// object in place does not wait: the kernel swaps the object's nexthop
// info under RCU and frees the old one later. So a member whose tunnel
// died is first pointed at a survivor's path (its buckets' flows move
// there at once, no grace period), then deleted as before, when the
// kernel spreads its buckets over all the survivors by weight: the dead
// tunnel's flows may move twice within milliseconds; the survivors' do
// not move at all.

// steerTargets picks, for each member in gone, a survivor to point it at:
// a member that stays in every group the gone member leaves (gone members
// are held only by the shrinking routes' groups, see sharedLeaving), the
// one with the highest weight in the first of them (then the lowest ID).
// A gone member with no such survivor is left out.
func steerTargets(gone []uint32, leaving map[int][]uint32, shrunk []int, res []Resilient, all []NexthopObject) map[uint32]NexthopObject {
	out := map[uint32]NexthopObject{}
	for _, g := range gone {
		var cands []GroupMember
		first := true
		for _, i := range shrunk {
			if !slices.Contains(leaving[i], g) {
				continue
			}
			cur, _ := findID(all, res[i].GroupID)
			stay := staying(cur.Group, leaving[i])
			if first {
				cands, first = stay, false
				continue
			}
			cands = slices.DeleteFunc(cands, func(c GroupMember) bool {
				return !slices.ContainsFunc(stay, func(s GroupMember) bool { return s.ID == c.ID })
			})
		}
		if t, ok := bestTarget(cands, all); ok {
			out[g] = t
		}
	}
	return out
}

// staying is a group's members less those leaving it.
func staying(members []GroupMember, leaving []uint32) []GroupMember {
	var out []GroupMember
	for _, gm := range members {
		if !slices.Contains(leaving, gm.ID) {
			out = append(out, gm)
		}
	}
	return out
}

// bestTarget is the heaviest candidate that is a plain nexthop object.
func bestTarget(cands []GroupMember, all []NexthopObject) (NexthopObject, bool) {
	slices.SortStableFunc(cands, func(a, b GroupMember) int {
		if a.Weight != b.Weight {
			return b.Weight - a.Weight
		}
		return int(a.ID) - int(b.ID)
	})
	for _, c := range cands {
		if o, ok := findID(all, c.ID); ok && o.Group == nil && !o.Blackhole {
			return o, true
		}
	}
	return NexthopObject{}, false
}

// steer points each member of targets at its target's path, in one
// batch, keeping the member's ID and protocol (its group entries and
// buckets stay, and it stays ours).
func (h *Handle) steer(targets map[uint32]NexthopObject, all []NexthopObject) error {
	ids := make([]uint32, 0, len(targets))
	for id := range targets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return h.run(batchOp{
		name: "steer leaving nexthops",
		n:    len(ids),
		build: func(m *msgBuf, i int, seq uint32) int {
			t := targets[ids[i]]
			self, _ := findID(all, ids[i])
			return buildNexthop(m, unix.NLM_F_REPLACE, seq, self.Protocol, uint8(t.Family), ids[i], t.Gateway, t.LinkIndex)
		},
		object: func(i int) string { return fmt.Sprintf("nexthop id %d to id %d's path", ids[i], targets[ids[i]].ID) },
	})
}
