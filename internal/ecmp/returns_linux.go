package ecmp

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// returnRoutes computes each return table's routes: the default routes
// over the live tunnels of that table's hub only, whatever its preference,
// so that a published connection's replies go back the way it came in.
func returnRoutes(plan Plan, routes map[netip.Prefix][]bgp.Path, members map[string]Member, alive func(string) bool) map[uint32]map[netip.Prefix][]fib.WeightedNexthop {
	out := map[uint32]map[netip.Prefix][]fib.WeightedNexthop{}
	hubOf := map[string]string{}
	for _, l := range plan.Links {
		hubOf[l.Name] = l.Hub
	}
	defaults := map[netip.Prefix][]bgp.Path{}
	for _, p := range defaultRoutes {
		if paths, ok := routes[p]; ok {
			defaults[p] = paths
		}
	}
	for _, rp := range plan.Returns {
		mine := map[string]Member{}
		for peer, m := range members {
			if hubOf[m.Uplink] == rp.Hub {
				m.Preference = 0 // one hub: all its tunnels share
				mine[peer] = m
			}
		}
		out[uint32(rp.Table)] = NextHops(defaults, mine, alive)
	}
	return out
}

// programReturns makes each return table hold its routes. In resilient
// mode each route has a group of its own over the ECMP table's member
// objects (one per tunnel), so that a failover's steer moves the replies
// with everything else; in multipath mode it is a plain multipath route
// (replies are few, and a tunnel leaving moves only its own flows anyway
// within one hub). full reads the tables back first; otherwise the last
// record is trusted, as in a failover. Called with c.mu held.
func (c *Controller) programReturns(want map[uint32]map[netip.Prefix][]fib.WeightedNexthop, full bool) error {
	var errs []error
	for _, table := range slices.Sorted(maps.Keys(want)) {
		routes := want[table]
		have := c.retInstalled[table]
		if full || have == nil {
			var err error
			if have, err = c.readReturns(table, routes); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		errs = append(errs, c.setReturns(table, have, routes))
		c.retInstalled[table] = have
	}
	return errors.Join(errs...)
}

// readReturns reads return table table back: a route as want has it
// (group and members, in the mode we use) is recorded with want's next
// hops, any other with none, so that it is written (or removed) whatever
// its next hops: a plain route in resilient mode, a group's in multipath
// mode, another group. The groups of our routes are adopted.
func (c *Controller) readReturns(table uint32, want map[netip.Prefix][]fib.WeightedNexthop) (map[netip.Prefix][]fib.WeightedNexthop, error) {
	read, err := c.fib.Multipaths(table, config.RouteProtocol)
	if err != nil {
		return nil, fmt.Errorf("read return table %d: %w", table, err)
	}
	have := map[netip.Prefix][]fib.WeightedNexthop{}
	for _, st := range read {
		c.adoptGroup(rkey{table, st.Prefix}, st.GroupID)
		have[st.Prefix] = nil
		if nhs, ok := want[st.Prefix]; ok && c.matches(table, st, nhs) {
			have[st.Prefix] = nhs
		}
	}
	return have, nil
}

// returnChanges splits a failover's return routes: those to set with next
// hops, which go into the resilient call with the ECMP table's (see
// recordMany), and the tables left for programReturns after it (a route
// to remove, no record yet). Called with c.mu held.
func (c *Controller) returnChanges(want map[uint32]map[netip.Prefix][]fib.WeightedNexthop) ([]change, map[uint32]map[netip.Prefix][]fib.WeightedNexthop) {
	var now []change
	later := map[uint32]map[netip.Prefix][]fib.WeightedNexthop{}
	for _, table := range slices.Sorted(maps.Keys(want)) {
		routes, have := want[table], c.retInstalled[table]
		if have == nil {
			later[table] = routes
			continue
		}
		for _, p := range sortedPrefixes(routes) {
			if !sameNexthops(have[p], routes[p]) {
				now = append(now, change{table: table, prefix: p, nhs: routes[p], record: have})
			}
		}
		for p := range have {
			if _, ok := routes[p]; !ok {
				later[table] = routes // setReturns removes it; the rest is equal by then
				break
			}
		}
	}
	return now, later
}

// setReturns writes one table's differences into have, as they land.
func (c *Controller) setReturns(table uint32, have, want map[netip.Prefix][]fib.WeightedNexthop) error {
	var errs []error
	for _, p := range sortedPrefixes(want) {
		if !sameNexthops(have[p], want[p]) {
			errs = append(errs, c.setReturn(table, have, p, want[p]))
		}
	}
	for p := range have {
		if _, ok := want[p]; !ok {
			errs = append(errs, c.setReturn(table, have, p, nil))
		}
	}
	return errors.Join(errs...)
}

// setReturn writes one return route (none: removes it) and, if it
// landed, notes it in have.
func (c *Controller) setReturn(table uint32, have map[netip.Prefix][]fib.WeightedNexthop, p netip.Prefix, nhs []fib.WeightedNexthop) error {
	c.awayAt = time.Time{} // a failover's FIB is done after this write
	if err := c.writeReturn(table, p, nhs); err != nil {
		c.writeErrors++
		return fmt.Errorf("return table %d %s: %w", table, p, err)
	}
	note(have, p, nhs)
	return nil
}

// writeReturn sets one return route (no next hops: removes it). A route
// to remove whose group we do not know goes by prefix: a group allocated
// for it could be one another route uses. In multipath mode a route that
// was a group's (an earlier run's, adopted) loses it once plain or gone.
func (c *Controller) writeReturn(table uint32, p netip.Prefix, nhs []fib.WeightedNexthop) error {
	k := rkey{table, p}
	if _, known := c.groups[k]; c.resilient && (len(nhs) > 0 || known) {
		err := c.fib.SetResilient(c.multipath(table, p, nhs), NexthopIDs, c.resilientOf(k))
		if len(nhs) == 0 {
			delete(c.groups, k)
		}
		return err
	}
	var err error
	if len(nhs) == 0 {
		err = c.fib.DeleteRoutes(table, config.RouteProtocol, []fib.Route{{Prefix: p}})
	} else {
		// The caller's record says the route differs: no read first.
		err = c.fib.ReplaceMultipath(c.multipath(table, p, nhs))
	}
	if err != nil {
		return err
	}
	return c.dropGroup(k)
}

// returnTables lists the return tables, for the sweep on close.
func (p Plan) returnTables() []uint32 {
	var out []uint32
	for _, rp := range p.Returns {
		out = append(out, uint32(rp.Table))
	}
	return out
}

// dropReturns empties the return tables plan no longer has: those of the
// running config before a reload (from the record) and, at start, those a
// previous run left (read back). Called with c.mu held, or before start.
func (c *Controller) dropReturns(plan Plan) error {
	keep := map[uint32]bool{}
	for _, t := range plan.returnTables() {
		keep[t] = true
	}
	var errs []error
	for i := 1; i <= config.MaxHubs; i++ {
		t := uint32(config.ReturnTableBase + i)
		if keep[t] {
			continue
		}
		have, ok := c.retInstalled[t]
		if !ok {
			var err error
			if have, err = c.readReturns(t, nil); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		errs = append(errs, c.setReturns(t, have, nil))
		delete(c.retInstalled, t)
	}
	return errors.Join(errs...)
}
