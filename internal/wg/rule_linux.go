package wg

import (
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/uplinkd/uplinkd/internal/config"
)

// ruleKey identifies one of uplinkd's policy rules.
type ruleKey struct {
	Family   int
	Priority int
	Mark     uint32
	Table    int
}

func (k ruleKey) String() string {
	fam := "ipv4"
	if k.Family == netlink.FAMILY_V6 {
		fam = "ipv6"
	}
	return fmt.Sprintf("%s rule pref %d fwmark %#x lookup %d", fam, k.Priority, k.Mark, k.Table)
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
	r.Mark = k.Mark
	mask := uint32(0xffffffff)
	r.Mask = &mask
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
			out = append(out, ruleKey{Family: fam, Priority: r.Priority, Mark: r.Mark, Table: r.Table})
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
