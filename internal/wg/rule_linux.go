package wg

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/config"
)

// ruleKey identifies one of uplinkd's policy rules.
type ruleKey struct {
	Family   int
	Priority int
	Mark     uint32       // 0: no fwmark match
	Src      netip.Prefix // invalid: any source
	Table    int
	// NoDefault ignores the table's default routes
	// (suppress_prefixlength 0).
	NoDefault bool
}

func (k ruleKey) String() string {
	fam := "ipv4"
	if k.Family == netlink.FAMILY_V6 {
		fam = "ipv6"
	}
	match := fmt.Sprintf("fwmark %#x", k.Mark)
	if k.Src.IsValid() {
		match = "from " + k.Src.String()
	}
	s := fmt.Sprintf("%s rule pref %d %s lookup %d", fam, k.Priority, match, k.Table)
	if k.NoDefault {
		s += " suppress_prefixlength 0"
	}
	return s
}

// sourceRules send what is sent from the tunnel's addresses by the main
// table's routes other than a default, else to the tunnel's table.
func sourceRules(s Source) []ruleKey {
	var out []ruleKey
	for _, a := range s.Addrs {
		fam := netlink.FAMILY_V4
		if a.Addr().Is6() {
			fam = netlink.FAMILY_V6
		}
		out = append(out,
			ruleKey{Family: fam, Priority: s.MainPriority, Src: a, Table: unix.RT_TABLE_MAIN, NoDefault: true},
			ruleKey{Family: fam, Priority: s.Priority, Src: a, Table: s.Table})
	}
	return out
}

// pinRules sends the uplink's marked packets, v4 and v6, to its table.
func pinRules(p Pin) []ruleKey {
	return []ruleKey{
		{Family: netlink.FAMILY_V4, Priority: p.Priority, Mark: p.FwMark, Table: p.Table},
		{Family: netlink.FAMILY_V6, Priority: p.Priority, Mark: p.FwMark, Table: p.Table},
	}
}

// returnRules send a hub's marked replies, v4 and v6, to its table.
func returnRules(rt Return) []ruleKey {
	return pinRules(Pin{FwMark: rt.Mark, Table: rt.Table, Priority: rt.Priority})
}

func (k ruleKey) rule() *netlink.Rule {
	r := netlink.NewRule()
	r.Family = k.Family
	r.Priority = k.Priority
	if k.Mark != 0 {
		r.Mark = k.Mark
		mask := uint32(0xffffffff)
		r.Mask = &mask
	}
	if k.Src.IsValid() {
		r.Src = ipNet(k.Src)
	}
	if k.NoDefault {
		r.SuppressPrefixlen = 0
	}
	r.Table = k.Table
	r.Protocol = config.RouteProtocol
	return r
}

// ownedRules reads back every rule in uplinkd's priority block.
func (m *Manager) ownedRules() ([]ruleKey, error) {
	var out []ruleKey
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := m.h.RuleList(fam)
		if err != nil {
			return nil, fmt.Errorf("list rules: %w", err)
		}
		for _, r := range rules {
			if r.Priority < config.RulePriority || r.Priority >= config.RulePriority+config.RuleBlockSize {
				continue
			}
			k := ruleKey{Family: fam, Priority: r.Priority, Mark: r.Mark, Table: r.Table, NoDefault: r.SuppressPrefixlen == 0}
			if r.Src != nil {
				ip, _ := netip.AddrFromSlice(r.Src.IP)
				ones, _ := r.Src.Mask.Size()
				k.Src = netip.PrefixFrom(ip.Unmap(), ones)
			}
			out = append(out, k)
		}
	}
	return out, nil
}

// ensureRule adds k unless it is among have, the rules as read back.
func (m *Manager) ensureRule(r *Result, k ruleKey, have []ruleKey) error {
	if slices.Contains(have, k) {
		return nil
	}
	if err := m.h.RuleAdd(k.rule()); err != nil {
		return fmt.Errorf("add %s: %w", k, err)
	}
	r.add("add %s", k)
	return nil
}
