package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// proto marks every route and rule the engine owns.
const proto = config.RouteProtocol

// noIPv6Gateway labels the guard that turns IPv6 prefixes away when the
// Plan has no IPv6 next hop: the kernel cannot route IPv6 via IPv4.
const noIPv6Gateway = "no IPv6 gateway"

// reconcile compiles the sources' union and installs it, then puts the
// rule and layout in order. It skips the work when nothing changed since
// the last reconcile that needs no retry, and returns that one's error.
// retry says whether trying again later may help (a kernel failure) or not
// (a guard refused the set).
func (e *Engine) reconcile() (retry bool, err error) {
	e.installMu.Lock()
	defer e.installMu.Unlock()
	e.mu.Lock()
	p, gen, prev := e.plan, e.gen, e.installed
	skip, last := gen == e.applied || e.closed, e.lastErr
	e.mu.Unlock()
	if skip {
		return false, last // e.g. the same set, still refused by the guards
	}
	retry, errI := e.install(p, prev)
	errL := e.settle(p)
	err = errors.Join(errI, errL)
	e.mu.Lock()
	if !retry && errL == nil {
		e.applied, e.lastErr = gen, err
	}
	e.mu.Unlock()
	return retry || errL != nil, err
}

// install compiles and syncs the table. A set the guards refuse leaves the
// installed one in place and is reported in Status.
func (e *Engine) install(p Plan, prev []netip.Prefix) (retry bool, err error) {
	e.mu.Lock()
	g, force := e.guards(p), e.forceInstall
	e.mu.Unlock()
	t0 := time.Now()
	res, err := breakout.CompileSets(e.entries(), breakout.Options{Guards: g, Previous: prev, Force: force})
	compiled := time.Since(t0)
	if err != nil {
		e.recordRefused(res, err, compiled)
		e.log.Warn("breakout update refused, keeping the installed set", "desired", len(res.Prefixes), "add", len(res.Add), "delete", len(res.Del), "err", err)
		return false, fmt.Errorf("compile breakout set: %w", err)
	}
	routes, err := e.routes(p, res.Prefixes)
	if err != nil {
		e.recordFailure(err)
		return true, err
	}
	t1 := time.Now()
	st, err := e.k.SyncSet(p.Table, proto, routes)
	took := time.Since(t1)
	installed := res.Prefixes
	if err != nil {
		err = fmt.Errorf("install breakout table %d: %w", p.Table, err)
		installed = e.readBack(p.Table, installed)
	}
	if err == nil && force {
		e.mu.Lock()
		e.forceInstall = false // taken once
		e.mu.Unlock()
	}
	e.recordInstall(&res, installed, st, err, compiled, took)
	e.tellState(p)
	e.log.Info("breakout installed", "table", p.Table, "routes", len(installed), "added", st.Added,
		"replaced", st.Replaced, "deleted", st.Deleted, "unchanged", st.Unchanged, "took", took.Round(time.Millisecond), "err", err)
	return err != nil, err
}

// readBack learns what a partly failed Sync left, so the churn baseline
// and Status tell the truth; the one case that pays for a dump.
func (e *Engine) readBack(table uint32, fallback []netip.Prefix) []netip.Prefix {
	rs, err := e.k.Dump(table, proto)
	if err != nil {
		return fallback
	}
	return routePrefixes(rs)
}

// entries are every source's last good set, as the store holds them:
// Compile reads them without joining them (a million entries are 32 MB to
// copy) and the installed set's Index keeps referring to them.
func (e *Engine) entries() [][]breakout.Entry {
	var sets [][]breakout.Entry
	for _, st := range e.store.States() {
		if len(st.Entries) > 0 {
			sets = append(sets, st.Entries)
		}
	}
	return sets
}

// guardsFor adds to the caller's guards the families the Plan cannot route.
func guardsFor(p Plan) breakout.Guards {
	g := p.Guards
	if !p.nexthop6().IsValid() {
		g.Protected = append(slices.Clip(g.Protected), breakout.Protected{Prefix: netip.MustParsePrefix("::/0"), Label: noIPv6Gateway})
	}
	return g
}

// nexthop6 is the gateway of IPv6 prefixes, invalid when there is none.
func (p Plan) nexthop6() netip.Addr {
	if p.Gateway6.IsValid() {
		return p.Gateway6
	}
	if p.Gateway.Is6() {
		return p.Gateway
	}
	return netip.Addr{}
}

// routes pairs each prefix with its family's gateway, without a slice of
// routes (72 bytes each: 11 MB for the whole table's 159 k, made again at
// every read-back). IPv4 prefixes may go via an IPv6 gateway (RFC 5549);
// the kernel does the rest.
func (e *Engine) routes(p Plan, ps []netip.Prefix) (fib.ViaSet, error) {
	link := 0
	if p.Interface != "" {
		var err error
		if link, err = e.k.LinkIndex(p.Interface); err != nil {
			return fib.ViaSet{}, err
		}
	}
	return fib.ViaSet{
		Prefixes: ps,
		Nexthop4: fib.Nexthop{Gateway: p.Gateway, LinkIndex: link},
		Nexthop6: fib.Nexthop{Gateway: p.nexthop6(), LinkIndex: link},
		// Each family through one nexthop object, where the kernel can.
		Objects: true,
	}, nil
}

// settle moves the layout to the Plan's once its table is filled: the rule
// follows the gateway's health, then rules and tables of earlier layouts
// go, and the marker records the new one.
func (e *Engine) settle(p Plan) error {
	e.mu.Lock()
	if e.cur != p.layout() {
		e.stale = append(e.stale, e.cur)
		e.cur = p.layout()
	}
	stale := slices.Clone(e.stale)
	e.mu.Unlock()
	errs := []error{e.syncRule()}
	for _, old := range stale {
		errs = append(errs, e.sweepLayout(old, p.layout()))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	e.mu.Lock()
	e.stale = nil
	e.mu.Unlock()
	e.saveMarker(p.layout())
	return nil
}

// saveMarker writes the marker, or reports why it could not. Not an error
// of the reconcile: the marker only lets a later start with another table
// or priority find this one to sweep, and retrying the reconcile for it
// would re-sync a million routes every retry while the disk stays full.
func (e *Engine) saveMarker(l layout) {
	err := writeMarker(e.dir, l)
	msg := ""
	if err != nil {
		msg = err.Error()
		e.log.Warn("breakout marker not saved: a restart with another table or rule priority would not sweep this one", "err", err)
	}
	e.mu.Lock()
	e.cs.MarkerError = msg
	e.mu.Unlock()
}

// sweepLayout removes an earlier layout's rules and routes, sparing what
// the current one shares with it.
func (e *Engine) sweepLayout(old, cur layout) error {
	var keep []rule
	if old.Priority == cur.Priority {
		keep = rulesFor(cur)
	}
	err := e.deleteRules(old.Priority, keep)
	if old.Table != cur.Table {
		if serr := e.k.SweepTable(old.Table); serr != nil {
			err = errors.Join(err, fmt.Errorf("sweep table %d: %w", old.Table, serr))
		} else {
			e.log.Info("breakout swept earlier table", "table", old.Table)
		}
	}
	return err
}

// deleteRules deletes uplinkd's rules at priority, except keep.
func (e *Engine) deleteRules(priority int, keep []rule) error {
	have, err := e.k.Rules(priority)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range have {
		if slices.Contains(keep, r) {
			continue
		}
		if err := e.k.DelRule(r); err != nil {
			errs = append(errs, err)
			continue
		}
		e.log.Info("breakout removed rule", "rule", r.String())
	}
	return errors.Join(errs...)
}

func routePrefixes(rs []fib.Route) []netip.Prefix {
	ps := make([]netip.Prefix, len(rs))
	for i, r := range rs {
		ps[i] = r.Prefix
	}
	return breakout.SortPrefixes(ps)
}

// Retry backoff of a failed install.
const (
	retryFirst = time.Second
	retryMax   = time.Minute
)

// runInstaller reconciles when a source changed, coalescing a burst of
// changes into one install, and retries a failed install on a backoff.
func (e *Engine) runInstaller() {
	defer e.loops.Done()
	wait := retryFirst
	retry := time.NewTimer(0)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.kick:
		case <-retry.C:
		}
		again, err := e.reconcile()
		if !again {
			wait = retryFirst
			continue
		}
		e.log.Warn("breakout install failed, retrying", "in", wait, "err", err)
		retry.Reset(wait)
		wait = min(2*wait, retryMax)
	}
}

// tellState passes the installed set and whether it is active to
// Plan.OnState. It reads the current plan, not the caller's copy: a reload
// may have changed the listener since a loop took its copy.
func (e *Engine) tellState(Plan) {
	e.mu.Lock()
	tell := e.plan.OnState
	installed, active := e.installed, e.plan.Health.Disabled || e.hs.Healthy
	e.mu.Unlock()
	if tell != nil {
		tell(installed, active)
	}
}

// State returns the installed set and whether breakout is active.
func (e *Engine) State() ([]netip.Prefix, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.installed, e.plan.Health.Disabled || e.hs.Healthy
}
