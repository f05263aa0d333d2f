package wg

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/config"
)

// sweep removes what uplinkd owns but d no longer wants: tunnels, rules in
// its priority block, and its routes in per-uplink tables.
func (m *Manager) sweep(r *Result, d Desired) error {
	return errors.Join(m.sweepLinks(r, d), m.sweepRules(r, d), m.sweepRoutes(r, d))
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

func (m *Manager) sweepRules(r *Result, d Desired) error {
	want := map[ruleKey]bool{}
	for _, p := range d.Pins {
		for _, k := range pinRules(p) {
			want[k] = true
		}
	}
	have, err := m.ownedRules()
	if err != nil {
		return err
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

func (m *Manager) sweepRoutes(r *Result, d Desired) error {
	tables, want := m.ownedTables(d)
	// Table by table: one dump of every table with our protocol would
	// also read the breakout table, up to a million routes.
	var have []routeKey
	for t := range tables {
		ks, err := m.ownedRoutes(t)
		if err != nil {
			return err
		}
		have = append(have, ks...)
	}
	var errs []error
	for _, k := range have {
		if want[k] {
			continue
		}
		if err := m.h.RouteDel(k.route()); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", k, err))
			continue
		}
		r.add("delete route %s", k)
	}
	return errors.Join(errs...)
}

// ownedTables returns the tables whose uplinkd routes this package owns
// (uplinkd's table range, the configured ones, and any an uplinkd rule
// points at) and the routes wanted in them.
func (m *Manager) ownedTables(d Desired) (map[int]bool, map[routeKey]bool) {
	tables := map[int]bool{}
	for t := config.TableBase + 1; t < config.TableBase+config.RuleBlockSize; t++ {
		tables[t] = true
	}
	if rules, err := m.ownedRules(); err == nil {
		for _, k := range rules {
			tables[k.Table] = true
		}
	}
	want := map[routeKey]bool{}
	for _, p := range d.Pins {
		tables[p.Table] = true
		link, err := m.h.LinkByName(p.Interface)
		if err != nil {
			continue
		}
		keys, _ := m.pinRoutes(p, link)
		for _, k := range keys {
			want[k] = true
		}
	}
	delete(tables, unix.RT_TABLE_MAIN)
	delete(tables, unix.RT_TABLE_LOCAL)
	delete(tables, unix.RT_TABLE_DEFAULT)
	return tables, want
}
