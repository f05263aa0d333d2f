package engine

import (
	"context"
	"net/netip"
	"time"

	"github.com/uplinkd/uplinkd/internal/probe"
)

// prober sends one echo request to the gateway and waits for the reply.
type prober = probe.Prober

// newICMPProber pings the gateway.
var newICMPProber proberFunc = probe.NewICMP

// proberFunc opens a prober for gw, reached through iface ("" any).
type proberFunc func(gw netip.Addr, iface string) (prober, error)

// healthState is the gateway's health as the probes saw it.
type healthState struct {
	Probing   bool
	Healthy   bool
	Since     time.Time // of the latest change of Healthy
	Misses    int       // consecutive
	Successes int       // consecutive
	LastRTT   time.Duration
	LastProbe time.Time
	LastError string
}

// observe records one probe and reports whether Healthy flipped: down after
// DownAfter consecutive misses, up after UpAfter consecutive answers, so a
// single lost echo moves nothing.
func (s *healthState) observe(h Health, rtt time.Duration, err error, now time.Time) bool {
	s.LastProbe = now
	if err != nil {
		s.Misses++
		s.Successes = 0
		s.LastError = err.Error()
		if s.Healthy && s.Misses >= h.DownAfter {
			s.Healthy, s.Since = false, now
			return true
		}
		return false
	}
	s.Successes++
	s.Misses = 0
	s.LastRTT, s.LastError = rtt, ""
	if !s.Healthy && s.Successes >= h.UpAfter {
		s.Healthy, s.Since = true, now
		return true
	}
	return false
}

// startHealth starts the probe loop for p, unless probing is disabled.
// A new gateway counts as healthy until probes say otherwise, so a start
// installs at once; a reload that keeps the gateway keeps its verdict, so
// it does not send traffic to a gateway known to be down. Called with e.mu
// held.
func (e *Engine) startHealth(p Plan, keep bool) {
	if !keep || p.Health.Disabled {
		e.hs = healthState{Healthy: true, Since: time.Now()}
	}
	e.hs.Probing, e.hs.Misses, e.hs.Successes = !p.Health.Disabled, 0, 0
	if p.Health.Disabled {
		return
	}
	ctx, cancel := context.WithCancel(e.ctx)
	l := &loop{cancel: cancel, done: make(chan struct{})}
	e.health = l
	go e.runHealth(ctx, l, p)
}

func (e *Engine) runHealth(ctx context.Context, l *loop, p Plan) {
	defer close(l.done)
	pr, err := e.newProbe(p.Gateway, p.Interface)
	if err != nil {
		// Without a socket there is no evidence the gateway is down:
		// breakout stays installed and Status says why it is unwatched.
		e.log.Error("breakout gateway probe unavailable, breakout stays installed", "gateway", p.Gateway, "err", err)
		e.mu.Lock()
		e.hs.Probing, e.hs.LastError = false, err.Error()
		e.mu.Unlock()
		return
	}
	defer pr.Close()
	t := time.NewTicker(p.Health.Interval)
	defer t.Stop()
	for {
		rtt, err := pr.Probe(ctx, p.Health.Timeout)
		if ctx.Err() != nil {
			return
		}
		e.observe(p, rtt, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// observe records a probe and, on a flip, moves the rule.
func (e *Engine) observe(p Plan, rtt time.Duration, err error) {
	e.mu.Lock()
	flipped := e.hs.observe(p.Health, rtt, err, time.Now())
	healthy := e.hs.Healthy
	ruleFailed := e.cs.RuleError != ""
	e.mu.Unlock()
	if !flipped {
		if ruleFailed { // the last change did not land: try again each probe
			e.syncRule()
		}
		return
	}
	if healthy {
		e.log.Info("breakout gateway up, breakout restored", "gateway", p.Gateway)
		// A link that went down took its routes with it, and the kernel
		// does not put them back: a diff-only Sync against the table does.
		e.changed()
	} else {
		e.log.Warn("breakout gateway down, breakout withdrawn (traffic falls back to main)", "gateway", p.Gateway, "err", err)
	}
	if rerr := e.syncRule(); rerr != nil {
		e.log.Error("breakout rule change failed", "err", rerr)
	}
	e.tellState(p)
}
