package wg

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/config"
)

// sweep removes what uplinkd owns but d no longer wants: tunnels, rules in
// its priority block, and its routes in per-uplink tables.
func (m *Manager) sweep(r *Result, d Desired, ps *pinState) error {
	return errors.Join(m.sweepLinks(r, d), m.sweepRules(r, d, ps.rules), m.sweepRoutes(r, d, ps))
}

// sweepAll removes everything of d's that no pin wants (Close: d has none).
func (m *Manager) sweepAll(r *Result, d Desired) error {
	rules, err := m.ownedRules()
	if err != nil {
		return errors.Join(m.sweepLinks(r, d), err)
	}
	return m.sweep(r, d, newPinState(rules))
}

func (m *Manager) sweepLinks(r *Result, d Desired) error {
	want := map[string]bool{}
	for _, t := range d.Tunnels {
		want[t.Name] = true
	}
	var errs []error
	for name, dev := range m.devices {
		if want[name] {
			continue
		}
		errs = append(errs, dev.Close())
		delete(m.devices, name)
		delete(m.kicks, name)
		r.add("remove tunnel %s", name)
	}
	links, err := m.h.LinkList()
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list links: %w", err))...)
	}
	for _, l := range links {
		name := l.Attrs().Name
		if want[name] || !ownedAnySite(l) {
			continue
		}
		if err := m.h.LinkDel(l); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete stale link %s: %w", name, err))
			continue
		}
		r.add("remove stale link %s", name)
	}
	return errors.Join(errs...)
}

// ownedAnySite is true for a link an earlier run marked, whatever its
// site was called then.
func ownedAnySite(l netlink.Link) bool {
	a := l.Attrs().Alias
	return len(a) > len(config.LinkAlias) && a[:len(config.LinkAlias)] == config.LinkAlias
}

// sweepRules deletes uplinkd's rules (have, as read before this Apply
// added any) that d's pins do not want.
func (m *Manager) sweepRules(r *Result, d Desired, have []ruleKey) error {
	want := map[ruleKey]bool{}
	for _, p := range d.Pins {
		for _, k := range pinRules(p) {
			want[k] = true
		}
	}
	for _, rt := range d.Returns {
		for _, k := range returnRules(rt) {
			want[k] = true
		}
	}
	for _, s := range d.Sources {
		for _, k := range sourceRules(s) {
			want[k] = true
		}
	}
	var errs []error
	for _, k := range have {
		if want[k] {
			continue
		}
		if err := m.h.RuleDel(k.rule()); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("delete %s: %w", k, err))
			continue
		}
		r.add("delete %s", k)
	}
	return errors.Join(errs...)
}

func (m *Manager) sweepRoutes(r *Result, d Desired, ps *pinState) error {
	// Table by table: one dump of every table with our protocol would
	// also read the breakout table, up to a million routes.
	var have []routeKey
	for t := range m.sweepTables(d, ps.rules) {
		ks, ok := ps.have[t]
		if !ok {
			var err error
			if ks, err = m.ownedRoutes(t); err != nil {
				return err
			}
		}
		have = append(have, ks...)
	}
	var errs []error
	for _, k := range have {
		if ps.want[k] {
			continue
		}
		if err := m.h.RouteDel(k.route()); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", k, err))
			continue
		}
		r.add("delete route %s", k)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	m.sweptBlock = true
	return nil
}

// sweepTables returns the tables whose uplinkd routes this package owns:
// those of d's pins, of the last Apply's (a removed uplink), of uplinkd's
// rules, and on the first sweep the whole block an earlier run could have
// left routes in.
func (m *Manager) sweepTables(d Desired, rules []ruleKey) map[int]bool {
	tables := map[int]bool{}
	if !m.sweptBlock {
		for t := config.TableBase + 1; t < config.TableBase+config.RuleBlockSize; t++ {
			tables[t] = true
		}
		for t := config.SourceTableBase + 1; t < config.SourceTableBase+config.RuleBlockSize; t++ {
			tables[t] = true
		}
	}
	for _, k := range rules {
		tables[k.Table] = true
	}
	for _, p := range slices.Concat(d.Pins, m.last.Pins) {
		tables[p.Table] = true
	}
	for _, s := range slices.Concat(d.Sources, m.last.Sources) {
		tables[s.Table] = true
	}
	// The return-path tables are the ECMP controller's, rules or not.
	for t := config.ReturnTableBase + 1; t < config.ReturnTableBase+config.RuleBlockSize; t++ {
		delete(tables, t)
	}
	delete(tables, unix.RT_TABLE_MAIN)
	delete(tables, unix.RT_TABLE_LOCAL)
	delete(tables, unix.RT_TABLE_DEFAULT)
	return tables
}
