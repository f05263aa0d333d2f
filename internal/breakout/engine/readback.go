package engine

import (
	"slices"
	"time"
)

// ReadBackStatus says what the timed read-backs of the rule and the table
// found: whatever changed them outside uplinkd (a hand, a firewall reload,
// another daemon) is put back and counted.
type ReadBackStatus struct {
	IntervalSeconds float64   `json:"interval_seconds"`
	Last            time.Time `json:"last,omitzero"` // of the latest read-back
	// RuleRepairs counts read-backs that found the policy rules wrong
	// (deleted, or left behind while withdrawn) and set them right.
	RuleRepairs int `json:"rule_repairs"`
	// RouteRepairs counts routes the read-backs put back into the table,
	// or took out of it, to match the installed set.
	RouteRepairs   int       `json:"route_repairs"`
	LastRepair     time.Time `json:"last_repair,omitzero"`
	LastRepairWhat string    `json:"last_repair_what,omitempty"` // e.g. "rule: ipv4 rule pref 6100 lookup 6100 was missing"
	LastError      string    `json:"last_error,omitempty"`       // the latest read-back or repair that failed
}

// runReadBack reads the kernel back every Plan.ReadBack: a reconciler that
// trusted its own memory would stay wrong, with status looking healthy,
// after a firewall reload or an `ip rule del`. It also resolves the hub
// endpoints again.
func (e *Engine) runReadBack() {
	defer e.loops.Done()
	t := time.NewTimer(e.readBackEvery())
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.look:
			e.repairTable(afterLinkChange)
			continue
		case <-t.C:
		}
		e.resolveEndpoints(e.ctx)
		e.repair()
		t.Reset(e.readBackEvery())
	}
}

// LinkChanged tells the engine that the breakout link changed state (the
// daemon's link events). A link that loses its carrier takes the table's
// nexthop objects, and every route on them, with it: the kernel's doing,
// so traffic falls back at once, but nothing puts them back when the
// carrier returns. The table is read back and synced now rather than at
// the next read-back; with the gateway down, once it answers again.
func (e *Engine) LinkChanged() {
	select {
	case e.look <- struct{}{}:
	default:
	}
}

// Why repairTable runs: the periodic read-back, or a link change.
const (
	onReadBack      = "read-back"
	afterLinkChange = "link change"
)

func (e *Engine) readBackEvery() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.plan.ReadBack
}

// repair reads the rules and the table back and puts right what drifted.
func (e *Engine) repair() {
	ruleErr := e.repairRule()
	tableErr := e.repairTable(onReadBack)
	e.mu.Lock()
	defer e.mu.Unlock()
	rb := &e.rbStatus
	rb.Last, rb.IntervalSeconds = time.Now(), e.plan.ReadBack.Seconds()
	rb.LastError = ""
	for _, err := range []error{ruleErr, tableErr} {
		if err != nil {
			rb.LastError = err.Error()
		}
	}
}

// repairRule compares the rules at the priority in use with what the
// gateway's health wants (see syncRule) and, if they differ, syncs them.
func (e *Engine) repairRule() error {
	e.mu.Lock()
	l, want := e.cur, e.plan.Health.Disabled || e.hs.Healthy
	e.mu.Unlock()
	have, err := e.k.Rules(l.Priority)
	if err != nil {
		e.log.Warn("breakout read-back of the rules failed", "err", err)
		return err
	}
	drift := ruleDrift(have, want, l)
	if drift == "" {
		return nil
	}
	if err := e.syncRule(); err != nil {
		e.log.Error("breakout rule repair failed", "drift", drift, "err", err)
		return err
	}
	e.log.Warn("breakout rule repaired: it had been changed outside uplinkd", "drift", drift)
	e.counted(func(rb *ReadBackStatus) { rb.RuleRepairs++ }, "rule: "+drift)
	return nil
}

// ruleDrift describes how have differs from the rules l wants in or out;
// "" when it does not.
func ruleDrift(have []rule, want bool, l layout) string {
	wanted := rulesFor(l)
	for _, r := range wanted {
		if want && !slices.Contains(have, r) {
			return r.String() + " was missing"
		}
	}
	for _, r := range have {
		if !want || !slices.Contains(wanted, r) {
			return r.String() + " should not be there"
		}
	}
	return ""
}

// repairTable syncs the installed set into the table again: fib.Sync
// reads the table back and changes only what differs, so a table nobody
// touched costs one dump. It waits while the gateway is down (its link
// may have taken the routes, and they come back with it) and while an
// install is due anyway.
func (e *Engine) repairTable(why string) error {
	e.installMu.Lock()
	defer e.installMu.Unlock()
	e.mu.Lock()
	p, installed := e.plan, e.installed
	skip := e.closed || e.gen != e.applied || !(p.Health.Disabled || e.hs.Healthy)
	e.mu.Unlock()
	if skip {
		return nil
	}
	routes, err := e.routes(p, installed)
	if err != nil {
		return err
	}
	st, err := e.k.SyncSet(p.Table, proto, routes)
	if err != nil {
		e.log.Error("breakout read-back of the table failed", "table", p.Table, "err", err)
		return err
	}
	n := st.Added + st.Replaced + st.Deleted
	switch {
	case n == 0:
	case why == afterLinkChange:
		e.log.Info("breakout table synced after a link change", "table", p.Table,
			"added", st.Added, "replaced", st.Replaced, "deleted", st.Deleted)
	default:
		e.log.Warn("breakout table repaired: routes had been changed outside uplinkd", "table", p.Table,
			"added", st.Added, "replaced", st.Replaced, "deleted", st.Deleted)
		e.counted(func(rb *ReadBackStatus) { rb.RouteRepairs += n }, "table: routes put back or removed")
	}
	return nil
}

// counted records a repair in Status.
func (e *Engine) counted(count func(*ReadBackStatus), what string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	count(&e.rbStatus)
	e.rbStatus.LastRepair, e.rbStatus.LastRepairWhat = time.Now(), what
}
