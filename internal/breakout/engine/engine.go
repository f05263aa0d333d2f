package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
)

// Engine runs breakout: it refreshes the sources, compiles their union,
// installs it and keeps the policy rule in step with the gateway's health.
// Its methods are safe for concurrent use.
type Engine struct {
	log      *slog.Logger
	k        kernel
	store    *lkg.Store
	dir      string // StateDir/breakout
	newProbe proberFunc

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	loops  sync.WaitGroup // installer and health loops
	kick   chan struct{}  // a source changed: reconcile soon
	look   chan struct{}  // the breakout link changed: read the table back now

	installMu sync.Mutex // one reconcile (compile, sync, layout) at a time
	ruleMu    sync.Mutex // rule changes, from reconcile and the health loop
	resolveMu sync.Mutex // one resolution of the endpoints at a time

	mu        sync.Mutex // guards the fields below
	plan      Plan
	refresher *source.Refresher
	runners   map[string]*runner
	health    *loop
	hs        healthState
	cur       layout   // the table and priority in use
	stale     []layout // earlier ones still to sweep
	installed []netip.Prefix
	res       *breakout.Result // the compiled set now installed, for Explain
	cs        CompileStatus
	gen       uint64 // bumped by every change of the inputs
	applied   uint64 // gen of the last reconcile that needs no retry
	lastErr   error  // that reconcile's outcome (a refused set)
	closed    bool
	// forceOnce names the sources whose next held update is taken (a
	// Start with Plan.Force, until each source's first refresh);
	// forceInstall lets the next install past the churn backstop.
	forceOnce    map[string]bool
	forceInstall bool
	endpoints    endpointState  // Plan.Endpoints as last resolved
	rbStatus     ReadBackStatus // what the read-backs found and repaired
}

// loop is a goroutine that can be stopped and waited for.
type loop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (l *loop) stop() {
	l.cancel()
	<-l.done
}

// Start restores the last-known-good sets from StateDir/breakout and
// installs them at once, so a restart with the feeds down still routes the
// last good set; then it refreshes every source on its interval. It adopts
// the routes an earlier run left (Sync re-adds nothing that is there) and
// sweeps a rule or table of an earlier run that the Plan no longer names.
// It fails only on what retrying cannot fix (a bad Plan, no netlink, an
// unusable state directory); a failed install is retried and reported in
// Status. The engine runs until Close, whatever becomes of ctx.
func Start(ctx context.Context, p Plan, log *slog.Logger) (*Engine, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("breakout plan: %w", err)
	}
	k, err := openKernel()
	if err != nil {
		return nil, fmt.Errorf("breakout: %w", err)
	}
	e, err := start(ctx, p, log, k, newICMPProber)
	if err != nil {
		k.Close()
		return nil, err
	}
	return e, nil
}

// start is Start with the kernel and the prober injected.
func start(ctx context.Context, p Plan, log *slog.Logger, k kernel, probe proberFunc) (*Engine, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(p.StateDir, "breakout")
	store, err := lkg.Open(dir, log, lkg.WithMaxEntries(p.Limits.MaxEntries))
	if err != nil {
		return nil, fmt.Errorf("breakout: %w", err)
	}
	e := &Engine{
		log: log, k: k, store: store, dir: dir, newProbe: probe,
		kick: make(chan struct{}, 1), look: make(chan struct{}, 1), plan: p, cur: p.layout(),
		runners: map[string]*runner{}, gen: 1,
		hs:        healthState{Healthy: true, Since: time.Now()},
		forceOnce: map[string]bool{}, forceInstall: p.Force,
	}
	e.refresher = e.newRefresher(p)
	if p.Force {
		for _, s := range p.Sources {
			e.forceOnce[s.Spec.Name] = true
		}
	}
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.forgetUnplanned(p)
	if err := e.adopt(p); err != nil {
		e.cancel()
		return nil, err
	}
	e.resolveEndpoints(e.ctx)
	again, err := e.reconcile()
	if err != nil {
		log.Warn("breakout initial install failed", "retry", again, "err", err)
	}
	e.loops.Add(2)
	go e.runInstaller()
	go e.runReadBack()
	if again {
		e.kick <- struct{}{} // the installer retries it
	}
	e.mu.Lock()
	e.startHealth(p, false)
	e.startSources(p.Sources, true)
	e.mu.Unlock()
	return e, nil
}

// forgetUnplanned drops restored sets of sources the Plan no longer has:
// a removed source's prefixes go.
func (e *Engine) forgetUnplanned(p Plan) {
	want := map[string]bool{}
	for _, s := range p.Sources {
		want[s.Spec.Name] = true
	}
	for _, st := range e.store.States() {
		if want[st.Source] {
			continue
		}
		if err := e.store.Forget(st.Source); err != nil {
			e.log.Warn("breakout forget source", "source", st.Source, "err", err)
		}
		e.log.Info("breakout source no longer configured, dropped", "source", st.Source, "prefixes", len(st.Entries))
	}
}

// adopt reads what an earlier run left: the routes in the table (the
// baseline of the churn limit) and any other table or rule priority it
// used, to sweep once the new set is in.
func (e *Engine) adopt(p Plan) error {
	rs, err := e.k.Dump(p.Table, proto)
	if err != nil {
		return fmt.Errorf("breakout: read table %d: %w", p.Table, err)
	}
	e.installed = routePrefixes(rs)
	e.cs.Installed = len(e.installed)
	if old, ok, err := readMarker(e.dir); err != nil {
		e.log.Warn("breakout marker unreadable, sweeping by priority only", "err", err)
	} else if ok && old != p.layout() {
		e.stale = append(e.stale, old)
	}
	e.log.Info("breakout adopted installed routes", "table", p.Table, "routes", len(e.installed))
	return nil
}

// Apply reloads the Plan: sources added, removed or changed (a removed
// source's prefixes go), new guards, gateway, table or health settings. An
// invalid Plan is refused and the running one kept. It returns once the new
// set (of what the sources hold now) is installed; new and changed sources
// are fetched in the background, so ctx bounds nothing yet.
func (e *Engine) Apply(ctx context.Context, p Plan) error {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return fmt.Errorf("breakout plan: %w", err)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed
	}
	old := e.plan
	e.plan = p
	e.refresher = e.newRefresher(p)
	stopped := e.stopSources(p.Sources)
	e.mu.Unlock()
	for _, r := range stopped {
		r.retire()
	}
	e.forgetUnplanned(p)
	if p.Force {
		e.acceptAll()
	}
	e.resolveEndpoints(ctx)
	e.mu.Lock()
	e.startSources(p.Sources, false)
	e.forceInstall = e.forceInstall || p.Force
	e.gen++
	e.mu.Unlock()
	if healthChanged(old, p) {
		e.restartHealth(p, old.Gateway == p.Gateway && old.Interface == p.Interface)
	}
	_, err := e.reconcile()
	return err
}

// newRefresher refreshes sources for p, through the gate.
func (e *Engine) newRefresher(p Plan) *source.Refresher {
	return &source.Refresher{Fetcher: p.Fetcher, Store: e.store, Log: e.log, Limits: p.Limits, Gate: e.gate}
}

// restartHealth stops the probe loop, if any, and starts the Plan's.
func (e *Engine) restartHealth(p Plan, keep bool) {
	e.mu.Lock()
	h := e.health
	e.health = nil
	e.mu.Unlock()
	if h != nil {
		h.stop()
	}
	e.mu.Lock()
	e.startHealth(p, keep)
	e.mu.Unlock()
}

// RefreshNow refreshes every source at once and installs the outcome. It
// returns the sources' failures and held updates (their last good sets
// stay installed) and the install's.
func (e *Engine) RefreshNow(ctx context.Context) error {
	e.mu.Lock()
	rs := make([]*runner, 0, len(e.runners))
	for _, r := range e.runners {
		rs = append(rs, r)
	}
	e.mu.Unlock()
	errs := make([]error, len(rs)+1)
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			out := e.refresh(ctx, r)
			errs[i] = errors.Join(out.Err, out.Held)
		})
	}
	wg.Wait()
	_, errs[len(rs)] = e.reconcile()
	return errors.Join(errs...)
}

// Close stops the engine. With flush it removes the rules, the table's
// routes and the marker; without, it leaves them for the next Start, which
// adopts them: a restart moves no traffic.
func (e *Engine) Close(flush bool) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	stopped := e.stopSources(nil)
	h := e.health
	e.mu.Unlock()
	e.cancel()
	for _, r := range stopped {
		r.retire()
	}
	if h != nil {
		h.stop()
	}
	e.loops.Wait()
	e.installMu.Lock() // waits for a reconcile in flight
	defer e.installMu.Unlock()
	var err error
	if flush {
		err = e.flush()
	}
	return errors.Join(err, e.k.Close())
}

// flush removes everything the engine owns in the kernel.
func (e *Engine) flush() error {
	e.mu.Lock()
	ls := append([]layout{e.cur}, e.stale...)
	e.mu.Unlock()
	var errs []error
	for _, l := range ls {
		errs = append(errs, e.deleteRules(l.Priority, nil), e.k.SweepTable(l.Table))
	}
	errs = append(errs, removeMarker(e.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("breakout flush: %w", err)
	}
	e.log.Info("breakout flushed", "table", e.cur.Table)
	return nil
}

var errClosed = errors.New("breakout engine closed")

func healthChanged(a, b Plan) bool {
	return a.Health != b.Health || a.Gateway != b.Gateway || a.Interface != b.Interface
}
