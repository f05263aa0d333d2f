package ecmp

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/bfd"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// Resilient group settings: buckets of a removed tunnel move at once;
// others move towards a returning (or reweighted) tunnel only after idling
// for groupIdle, so it takes over idle flows, not busy ones — unless the
// group has stayed unbalanced for groupUnbalanced, when busy buckets move
// too, or a tunnel could stay starved under constant load.
const (
	groupBuckets    = 256
	groupIdle       = 5 * time.Second
	groupUnbalanced = 60 * time.Second
)

// program makes the kernel hold exactly want, reading it back first and
// touching only prefixes that differ. Additions and changes go before
// deletions. What it records as installed is what the kernel holds after:
// a write that failed leaves the prefix as it was read, so the next
// reconcile tries again rather than believing it done.
func (c *Controller) program(want map[netip.Prefix][]fib.WeightedNexthop) error {
	have, err := c.fib.Multipaths(c.plan.Table, config.RouteProtocol)
	if err != nil {
		return fmt.Errorf("read ecmp routes: %w", err)
	}
	actual := map[netip.Prefix]fib.MultipathState{}
	installed := map[netip.Prefix][]fib.WeightedNexthop{}
	for _, st := range have {
		actual[st.Prefix] = st
		installed[st.Prefix] = st.Nexthops
	}
	var errs []error
	for _, p := range sortedPrefixes(want) {
		if st, ok := actual[p]; ok && c.matches(c.plan.Table, st, want[p]) {
			installed[p] = want[p] // with BGP's next hops, which kernelForm may drop
			continue
		}
		errs = append(errs, c.record(installed, p, want[p]))
	}
	for p := range actual {
		if _, ok := want[p]; !ok {
			errs = append(errs, c.record(installed, p, nil))
		}
	}
	c.installed = installed
	return errors.Join(errs...)
}

// programChanged writes the prefixes whose next hops in want differ from
// what was last installed, and the return tables' routes that differ from
// theirs (returns; nil leaves them alone), trusting those records: no
// read-back. In resilient mode the return tables' groups share the ECMP
// table's member objects, so their changes go in the same call
// (recordMany): a tunnel leaving is one steer for every table, then one
// delete. In multipath mode they are written after the routes.
func (c *Controller) programChanged(want map[netip.Prefix][]fib.WeightedNexthop, returns map[uint32]map[netip.Prefix][]fib.WeightedNexthop) error {
	installed := maps.Clone(c.installed)
	var changed []change
	for _, p := range sortedPrefixes(want) {
		if have, ok := c.installed[p]; !ok || !sameNexthops(have, want[p]) {
			changed = append(changed, change{table: c.plan.Table, prefix: p, nhs: want[p], record: installed, main: true})
		}
	}
	var later map[uint32]map[netip.Prefix][]fib.WeightedNexthop
	if c.resilient {
		var shrinking []change
		shrinking, later = c.returnChanges(returns)
		changed = append(changed, shrinking...)
	} else {
		later = returns
	}
	errs := c.recordMany(changed, func() { c.betweenAt = time.Now() })
	for p := range c.installed {
		if _, ok := want[p]; !ok {
			errs = append(errs, c.record(installed, p, nil))
		}
	}
	c.installed = installed
	if len(later) > 0 {
		errs = append(errs, c.programReturns(later, false))
	}
	return errors.Join(errs...)
}

// change is one route to write: its table and prefix, its next hops, and
// the record (installed, or a return table's) to note it in once it
// landed; main for a route of the ECMP table (counted and logged).
type change struct {
	table  uint32
	prefix netip.Prefix
	nhs    []fib.WeightedNexthop
	record map[netip.Prefix][]fib.WeightedNexthop
	main   bool
}

// A failover steers a dead tunnel's member to a survivor before deleting
// it (fib.Shrink) only while the namespace's IPv4 FIB holds at most
// steerMaxPrefixes routes: each steer makes the kernel walk every IPv4
// route (~17 ns a route idle: 0.34 ms for 20,000; 9 ms measured with the
// 998 k breakout set's 159,000 under the bench's load), where the delete
// it spares the failover waits for a grace period (0.1 ms idle, 1-13 ms
// under load). The full reconcile counts them every steerRecount.
const (
	steerMaxPrefixes = 20000
	steerRecount     = 10 * time.Second
)

// countIPv4 counts the namespace's IPv4 routes if steerRecount has passed
// since the last count; ok false when it did not count. Called by the
// full reconcile before it takes c.mu (it walks the FIB trie).
func (c *Controller) countIPv4(now time.Time) (n int, ok bool, err error) {
	if now.Sub(c.countedAt) < steerRecount {
		return 0, false, nil
	}
	c.countedAt = now
	n, err = fib.IPv4Prefixes()
	return n, true, err
}

// setSteer decides whether failovers steer, from a count of the IPv4
// routes. Called with c.mu held.
func (c *Controller) setSteer(n int, err error) {
	steer := err == nil && n <= steerMaxPrefixes
	if steer != c.steer {
		c.log.Info("failover steering", "on", steer, "ipv4_routes", n, "limit", steerMaxPrefixes, "err", err)
	}
	c.steer = steer
}

// recordMany writes the changes (each with next hops) and notes those
// that landed in their records. In resilient mode they go to the kernel in
// one call: a failover takes a member out of the IPv4 and the IPv6
// default's groups, and the return tables', with one nexthop dump, one
// batch steering it to a survivor and one of deletes (SetResilientMany),
// where a call each made a round trip or two per route, each a chance to
// wait for the CPU or for the rtnl lock. between runs after the steers,
// before the deletes, which wait for the kernel's grace period; the
// failover's FIB time (awayAt) is the steer's unless a write follows the
// call (record, setReturns clear it).
//
// In multipath mode cs holds the ECMP table's routes only (programChanged
// writes the return tables after them), each set on its own.
func (c *Controller) recordMany(cs []change, between func()) []error {
	if !c.resilient || len(cs) == 0 {
		var errs []error
		for _, ch := range cs {
			errs = append(errs, c.record(ch.record, ch.prefix, ch.nhs))
		}
		return errs
	}
	mps, res := make([]fib.Multipath, len(cs)), make([]fib.Resilient, len(cs))
	for i, ch := range cs {
		if ch.main {
			c.changes++
			c.written = append(c.written, routeWrite{ch.prefix, ch.nhs})
		}
		mps[i], res[i] = c.multipath(ch.table, ch.prefix, ch.nhs), c.resilientOf(rkey{ch.table, ch.prefix})
	}
	start := time.Now()
	errs, away := c.fib.SetResilientMany(mps, NexthopIDs, res, fib.Shrink{Steer: c.steer, Between: between})
	c.groupsTook, c.awayAt = time.Since(start), away
	for i, ch := range cs {
		if errs[i] != nil {
			c.writeErrors++
			errs[i] = fmt.Errorf("ecmp route %s table %d: %w", ch.prefix, ch.table, errs[i])
			continue
		}
		ch.record[ch.prefix] = ch.nhs
	}
	return errs
}

// record sets one prefix and, if the kernel took it, notes it in
// installed.
func (c *Controller) record(installed map[netip.Prefix][]fib.WeightedNexthop, p netip.Prefix, nhs []fib.WeightedNexthop) error {
	if err := c.set(p, nhs); err != nil {
		c.writeErrors++
		return err
	}
	note(installed, p, nhs)
	return nil
}

// note records nhs as prefix p's next hops in rec; none: p is gone.
func note(rec map[netip.Prefix][]fib.WeightedNexthop, p netip.Prefix, nhs []fib.WeightedNexthop) {
	if len(nhs) == 0 {
		delete(rec, p)
	} else {
		rec[p] = nhs
	}
}

// matches says whether the kernel's route in table already is what we
// want, in the mode we use.
func (c *Controller) matches(table uint32, st fib.MultipathState, want []fib.WeightedNexthop) bool {
	if c.resilient != (st.GroupID != 0) || (c.resilient && st.GroupID != c.groups[rkey{table, st.Prefix}]) {
		return false
	}
	return sameNexthops(st.Nexthops, c.kernelForm(want))
}

// kernelForm is nhs as the kernel holds them: in resilient mode, a next
// hop on a dual-stack tunnel has no gateway. A WireGuard tunnel is point
// to point (its peer is chosen by the packet's destination), so the
// gateway selects nothing there; without it one member object per tunnel
// serves the IPv4 and the IPv6 default's groups, and a tunnel leaving both
// is one object deleted, one of the kernel's expedited RCU grace periods
// instead of two (see fib's memberFamily). The installed record, the
// status and the log keep BGP's next hops. Called with c.mu held.
func (c *Controller) kernelForm(nhs []fib.WeightedNexthop) []fib.WeightedNexthop {
	if !c.resilient {
		return nhs
	}
	var out []fib.WeightedNexthop
	for i, nh := range nhs {
		if !nh.Gateway.IsValid() || !c.dualStack(nh.LinkIndex) {
			continue
		}
		if out == nil {
			out = slices.Clone(nhs)
		}
		out[i].Gateway = netip.Addr{}
	}
	if out == nil {
		return nhs
	}
	return out
}

// dualStack reports whether link is a tunnel that carries both families.
// Called with c.mu held.
func (c *Controller) dualStack(link int) bool {
	for _, m := range c.members {
		if m.LinkIndex == link && m.DualStack {
			return true
		}
	}
	return false
}

func sameNexthops(a, b []fib.WeightedNexthop) bool {
	key := func(n fib.WeightedNexthop) string { return fmt.Sprintf("%s/%d/%d", n.Gateway, n.LinkIndex, n.Weight) }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

// set installs one prefix's next hops; none removes the route.
func (c *Controller) set(p netip.Prefix, nhs []fib.WeightedNexthop) error {
	mp := c.multipath(c.plan.Table, p, nhs)
	c.changes++
	c.awayAt = time.Time{} // the FIB is done after this write, not at a steer before it
	// Logged once every route is written (logWritten): a line costs
	// nothing the routes wait for, the IPv6 default not the IPv4 one's.
	c.written = append(c.written, routeWrite{p, nhs})
	k := rkey{c.plan.Table, p}
	if !c.resilient {
		var err error
		if len(nhs) == 0 {
			err = c.fib.DeleteRoutes(c.plan.Table, config.RouteProtocol, []fib.Route{{Prefix: p}})
		} else {
			err = c.fib.SetMultipath(mp)
		}
		if err != nil {
			return err
		}
		return c.dropGroup(k)
	}
	err := c.fib.SetResilient(mp, NexthopIDs, c.resilientOf(k))
	if len(nhs) == 0 {
		delete(c.groups, k)
	}
	if err != nil {
		return fmt.Errorf("ecmp route %s: %w", p, err)
	}
	return nil
}

// dropGroup removes the resilient group route k had, once k is a plain
// route (or gone) in multipath mode: a group an earlier run in resilient
// mode left, adopted at start, that no route uses any more and that
// would hold its members until the exit sweep. Without one it does
// nothing (the failover path, after the first full reconcile).
func (c *Controller) dropGroup(k rkey) error {
	id, ok := c.groups[k]
	if !ok {
		return nil
	}
	delete(c.groups, k)
	return c.fib.RemoveGroup(config.RouteProtocol, NexthopIDs, id)
}

// multipath is prefix p's route in table via nhs.
func (c *Controller) multipath(table uint32, p netip.Prefix, nhs []fib.WeightedNexthop) fib.Multipath {
	return fib.Multipath{Table: table, Protocol: config.RouteProtocol, Prefix: p, Nexthops: c.kernelForm(nhs)}
}

// rkey names a route of ours: its table (the ECMP table or a return
// table) and prefix.
type rkey struct {
	table  uint32
	prefix netip.Prefix
}

// resilientOf is route k's resilient group (allocated on first use).
func (c *Controller) resilientOf(k rkey) fib.Resilient {
	return fib.Resilient{GroupID: c.groupID(k), Buckets: groupBuckets, IdleTimer: groupIdle, UnbalancedTimer: groupUnbalanced}
}

// adoptGroup takes the group the kernel's route k uses as k's, if it is
// one of ours and k has none yet: an allocated ID must never be one a
// route already uses (its group would be rewritten under that route).
func (c *Controller) adoptGroup(k rkey, id uint32) {
	if _, ok := c.groups[k]; !ok && id != 0 && NexthopIDs.Contains(id) {
		c.groups[k] = id
	}
}

// routeWrite is a route written, to be logged.
type routeWrite struct {
	prefix netip.Prefix
	nhs    []fib.WeightedNexthop
}

// logWritten logs the routes written since it was last called. Called
// with c.mu held, after the kernel writes of a reconcile.
func (c *Controller) logWritten() {
	for _, w := range c.written {
		c.log.Info("ecmp route", "prefix", w.prefix, "nexthops", describe(w.nhs))
	}
	c.written = c.written[:0]
}

// groupID returns route k's resilient group, allocating the lowest free
// ID from the bottom of the owned range (members come from the top).
func (c *Controller) groupID(k rkey) uint32 {
	if id, ok := c.groups[k]; ok {
		return id
	}
	used := map[uint32]bool{}
	for _, id := range c.groups {
		used[id] = true
	}
	id := NexthopIDs.First
	for used[id] {
		id++
	}
	c.groups[k] = id
	return id
}

func describe(nhs []fib.WeightedNexthop) string {
	if len(nhs) == 0 {
		return "none (withdrawn)"
	}
	s := make([]string, len(nhs))
	for i, n := range nhs {
		s[i] = n.String()
	}
	return strings.Join(s, ", ")
}

func sortedPrefixes[V any](m map[netip.Prefix]V) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return strings.Compare(a.String(), b.String()) })
	return ps
}

// syncBFD runs one session per tunnel, over its IPv4 inner addresses. A
// session whose liveness mode changed is started again: its
// discriminator says which mode it offers.
func (c *Controller) syncBFD(plan Plan) {
	want := map[bfd.Key]bfd.SessionConfig{}
	if plan.BFD {
		for _, l := range plan.Links {
			sc := bfdSession(plan, l)
			want[sc.Key()] = sc
		}
	}
	for _, st := range c.bfd.Snapshot() {
		k := bfd.Key{Interface: st.Interface, Peer: st.Peer}
		if sc, ok := want[k]; !ok || sc.Frugal != st.AskedFrugal {
			c.bfd.Remove(k)
			continue
		}
		// New timers (a reload) apply to the running session by a Poll
		// Sequence: the tunnel stays in while they change.
		if _, err := c.bfd.Update(want[k]); err != nil {
			c.log.Warn("bfd timers", "tunnel", k.Interface, "err", err)
		}
		delete(want, k)
	}
	for _, sc := range want {
		if _, err := c.bfd.Add(sc); err != nil {
			c.log.Warn("bfd session", "tunnel", sc.Interface, "err", err)
		}
	}
}

// staleBFD lists the tunnels whose interface was re-created since their
// BFD session was bound: that session's sockets are bound to an index that
// no longer exists, so it would stay Down, and the tunnel out of ECMP,
// until a restart. Called with c.mu held; rebindBFD then replaces them
// without it (a session's last state change calls back into onBFD).
func (c *Controller) staleBFD(members map[string]Member) []bfd.SessionConfig {
	if !c.plan.BFD {
		return nil
	}
	var out []bfd.SessionConfig
	for _, l := range c.plan.Links {
		m, ok := members[peerName(l.Name, false)]
		if !ok {
			continue
		}
		old, seen := c.bfdIndex[l.Name]
		c.bfdIndex[l.Name] = m.LinkIndex
		if seen && old != m.LinkIndex {
			out = append(out, bfdSession(c.plan, l))
		}
	}
	return out
}

// rebindBFD replaces the sessions staleBFD found. Called without c.mu.
func (c *Controller) rebindBFD(stale []bfd.SessionConfig) {
	for _, sc := range stale {
		c.bfd.Remove(sc.Key())
		if _, err := c.bfd.Add(sc); err != nil {
			c.log.Warn("bfd session", "tunnel", sc.Interface, "err", err)
			continue
		}
		c.mu.Lock()
		c.bfdRebinds++
		c.mu.Unlock()
		c.log.Info("bfd session re-created: its tunnel interface was", "tunnel", sc.Interface)
	}
}

// setHashPolicy spreads flows, not hosts: layer 4 by default. The setting
// is per network namespace.
func setHashPolicy(policy int) error {
	for _, key := range []string{"net/ipv4/fib_multipath_hash_policy", "net/ipv6/fib_multipath_hash_policy"} {
		path := "/proc/sys/" + key
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		if strings.TrimSpace(string(b)) == strconv.Itoa(policy) {
			continue
		}
		if err := os.WriteFile(path, []byte(strconv.Itoa(policy)), 0o644); err != nil {
			return fmt.Errorf("set %s: %w", key, err)
		}
	}
	return nil
}
