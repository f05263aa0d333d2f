package ecmp

import (
	"errors"
	"fmt"
	"net/netip"
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

// programReturns makes each return table hold its routes (plain multipath:
// replies are few and a tunnel leaving moves only its own flows anyway
// within one hub). full reads the tables back first; otherwise the last
// record is trusted, as in a failover. Called with c.mu held.
func (c *Controller) programReturns(want map[uint32]map[netip.Prefix][]fib.WeightedNexthop, full bool) error {
	var errs []error
	for table, routes := range want {
		have := c.retInstalled[table]
		if full || have == nil {
			read, err := c.fib.Multipaths(table, config.RouteProtocol)
			if err != nil {
				errs = append(errs, fmt.Errorf("read return table %d: %w", table, err))
				continue
			}
			have = map[netip.Prefix][]fib.WeightedNexthop{}
			for _, st := range read {
				have[st.Prefix] = st.Nexthops
			}
		}
		errs = append(errs, c.setReturns(table, have, routes))
		c.retInstalled[table] = have
	}
	return errors.Join(errs...)
}

// setReturns writes one table's differences into have, as they land.
func (c *Controller) setReturns(table uint32, have, want map[netip.Prefix][]fib.WeightedNexthop) error {
	var errs []error
	for p, nhs := range want {
		if sameNexthops(have[p], nhs) {
			continue
		}
		mp := fib.Multipath{Table: table, Protocol: config.RouteProtocol, Prefix: p, Nexthops: nhs}
		c.awayAt = time.Time{} // a failover's FIB is done after this write
		// have says the route differs: no read first.
		if err := c.fib.ReplaceMultipath(mp); err != nil {
			c.writeErrors++
			errs = append(errs, fmt.Errorf("return table %d %s: %w", table, p, err))
			continue
		}
		have[p] = nhs
	}
	for p := range have {
		if _, ok := want[p]; ok {
			continue
		}
		c.awayAt = time.Time{}
		if err := c.fib.DeleteRoutes(table, config.RouteProtocol, []fib.Route{{Prefix: p}}); err != nil {
			c.writeErrors++
			errs = append(errs, fmt.Errorf("return table %d %s: %w", table, p, err))
			continue
		}
		delete(have, p)
	}
	return errors.Join(errs...)
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
			read, err := c.fib.Multipaths(t, config.RouteProtocol)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			have = map[netip.Prefix][]fib.WeightedNexthop{}
			for _, st := range read {
				have[st.Prefix] = st.Nexthops
			}
		}
		errs = append(errs, c.setReturns(t, have, nil))
		delete(c.retInstalled, t)
	}
	return errors.Join(errs...)
}
