package fib

import (
	"cmp"
	"fmt"
	"slices"
)

// validateMultipath refuses what the kernel would refuse, before anything is touched.
func validateMultipath(mp Multipath, needLink bool) error {
	if !mp.Prefix.IsValid() {
		return fmt.Errorf("multipath route: invalid prefix %v", mp.Prefix)
	}
	seen := make(map[WeightedNexthop]bool, len(mp.Nexthops))
	for _, nh := range mp.Nexthops {
		key := nh
		key.Weight = 0
		switch {
		case nh.Weight < 1 || nh.Weight > 256:
			return fmt.Errorf("multipath route %s: nexthop %s: weight must be 1..256", mp.Prefix, nh)
		case !nh.Gateway.IsValid() && nh.LinkIndex == 0:
			return fmt.Errorf("multipath route %s: nexthop %s: gateway or device required", mp.Prefix, nh)
		case !needLink && !nh.Gateway.IsValid() && mp.Prefix.Addr().Is6():
			return fmt.Errorf("multipath route %s: nexthop %s: the kernel refuses device-only IPv6 multipath nexthops (nexthop objects allow them)", mp.Prefix, nh)
		case needLink && nh.LinkIndex == 0:
			return fmt.Errorf("multipath route %s: nexthop %s: device required for a nexthop object", mp.Prefix, nh)
		case seen[key]:
			return fmt.Errorf("multipath route %s: nexthop %s listed twice", mp.Prefix, nh)
		}
		seen[key] = true
	}
	return nil
}

// compareNexthop orders weighted nexthops by gateway then device.
func compareNexthop(a, b WeightedNexthop) int {
	if c := a.Gateway.Compare(b.Gateway); c != 0 {
		return c
	}
	return cmp.Compare(a.LinkIndex, b.LinkIndex)
}

// sameNexthops compares nexthop sets regardless of order. A one-nexthop
// route carries no weight in the kernel, so weight is ignored then; a
// desired LinkIndex of 0 accepts the device the kernel resolved.
func sameNexthops(want, got []WeightedNexthop) bool {
	if len(want) != len(got) {
		return false
	}
	w, g := slices.Clone(want), slices.Clone(got)
	slices.SortFunc(w, compareNexthop)
	slices.SortFunc(g, compareNexthop)
	for i := range w {
		if w[i].Gateway != g[i].Gateway || (w[i].LinkIndex != 0 && w[i].LinkIndex != g[i].LinkIndex) {
			return false
		}
		if len(w) > 1 && w[i].Weight != g[i].Weight {
			return false
		}
	}
	return true
}

// sameMembers compares group member lists regardless of order.
func sameMembers(a, b []GroupMember) bool {
	cmpID := func(x, y GroupMember) int { return cmp.Compare(x.ID, y.ID) }
	x, y := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(x, cmpID)
	slices.SortFunc(y, cmpID)
	return slices.Equal(x, y)
}
