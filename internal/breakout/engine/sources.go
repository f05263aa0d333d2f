package engine

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
)

// runner refreshes one source on its interval.
type runner struct {
	cfg     source.Config
	ctx     context.Context // cancelled when the runner stops
	loop    *loop
	mu      sync.Mutex // one refresh of this source at a time; guards retired
	retired bool       // stopped: its refreshes must no longer touch the store
	next    time.Time  // guarded by Engine.mu
}

// retire stops the runner and waits out a refresh in flight (RefreshNow's
// included), so that nothing stores a set for the source afterwards.
func (r *runner) retire() {
	r.loop.stop()
	r.mu.Lock()
	r.retired = true
	r.mu.Unlock()
}

// startSources starts a runner for every source of srcs that has none
// (new, or stopped by stopSources because it changed). At Start a restored
// set that is still fresh waits out the rest of its interval; after a
// reload the source is new or changed and is fetched at once. Called with
// e.mu held.
func (e *Engine) startSources(srcs []source.Config, atStart bool) {
	for _, cfg := range srcs {
		name := cfg.Spec.Name
		if _, ok := e.runners[name]; ok {
			continue
		}
		first := time.Duration(0)
		if atStart {
			st, ok := e.store.Get(name)
			first = firstDelay(cfg, st, ok, time.Now())
		}
		ctx, cancel := context.WithCancel(e.ctx)
		r := &runner{cfg: cfg, ctx: ctx, loop: &loop{cancel: cancel, done: make(chan struct{})}}
		r.next = time.Now().Add(first)
		e.runners[name] = r
		go e.runSource(ctx, r, first)
	}
}

// stopSources removes the runners of sources that are gone from srcs or
// changed, and returns them to be stopped (outside e.mu: a refresh in
// flight may need it). Called with e.mu held.
func (e *Engine) stopSources(srcs []source.Config) []*runner {
	want := map[string]source.Config{}
	for _, s := range srcs {
		want[s.Spec.Name] = s
	}
	var out []*runner
	for name, r := range e.runners {
		if cfg, ok := want[name]; ok && reflect.DeepEqual(cfg, r.cfg) {
			continue
		}
		delete(e.runners, name)
		out = append(out, r)
	}
	return out
}

// firstDelay: a restored set younger than the interval is not fetched again
// at once, so a daemon restarted in a loop does not hammer the feeds; unless
// it was fetched for other settings (the source was edited while the daemon
// was down). Static and file sources cost nothing to read and may have been
// edited; a dns source's answers are not kept across restarts.
func firstDelay(cfg source.Config, st lkg.State, ok bool, now time.Time) time.Duration {
	if !ok || st.LastSuccess.IsZero() || slices.Contains([]feed.Kind{feed.KindStatic, feed.KindFile, feed.KindDNS}, cfg.Spec.Kind) {
		return 0
	}
	if st.Spec != cfg.Fingerprint() {
		return 0
	}
	return max(0, cfg.Every-st.Age(now))
}

func (e *Engine) runSource(ctx context.Context, r *runner, first time.Duration) {
	defer close(r.loop.done)
	t := time.NewTimer(first)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wait := r.cfg.Every
		out := e.refresh(ctx, r)
		if out.Err != nil {
			failures++
			wait = min(r.cfg.Every, retryAfter(failures))
		} else {
			failures = 0
		}
		if out.Next > 0 { // DNS answers: ask again when the first goes bad
			wait = min(wait, out.Next)
		}
		e.mu.Lock()
		r.next = time.Now().Add(wait)
		e.mu.Unlock()
		t.Reset(wait)
	}
}

// retryAfter spaces the retries of a failing source: 5 s, 10 s, 20 s, …
// up to 15 minutes (never later than its regular refresh). A feed that
// failed at start (the tunnels not up yet, say) is tried again soon, not a
// day later.
func retryAfter(failures int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < failures && d < 15*time.Minute; i++ {
		d *= 2
	}
	return min(d, 15*time.Minute)
}

// refresh runs one refresh of r and asks for a reconcile when the source's
// set changed, metadata included (Explain shows it). A set fetched again
// unchanged costs no install.
func (e *Engine) refresh(ctx context.Context, r *runner) source.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retired {
		return source.Outcome{Source: r.cfg.Spec.Name}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(r.ctx, cancel)() // a runner stopping ends its fetch
	e.mu.Lock()
	rf := e.refresher
	e.mu.Unlock()
	prev, _ := e.store.Get(r.cfg.Spec.Name)
	out := rf.Refresh(ctx, r.cfg)
	e.mu.Lock()
	delete(e.forceOnce, r.cfg.Spec.Name) // Plan.Force at Start: the first refresh only
	e.mu.Unlock()
	cur, _ := e.store.Get(r.cfg.Spec.Name)
	if !slices.Equal(prev.Entries, cur.Entries) {
		e.changed()
	}
	return out
}

// changed asks the installer for a reconcile; a burst of calls while one
// runs coalesces into one more.
func (e *Engine) changed() {
	e.mu.Lock()
	e.gen++
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
}
