package engine

import (
	"errors"
	"fmt"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
)

// gate judges a source's fetched set before it replaces the last good
// set (source.Gate): against the saved set, which after a restart is the
// one restored from disk, and against the other sources' sets. A set the
// saved one was not fetched for (a new source, or one whose URL or filters
// changed) has no baseline, so only its coverage and size are limited.
// A source armed by Plan.Force at Start takes its first held update.
func (e *Engine) gate(src source.Config, prev lkg.State, next []breakout.Entry, others [][]breakout.Entry) error {
	e.mu.Lock()
	g := e.guards(e.plan)
	e.mu.Unlock()
	u := breakout.Update{Source: src.Spec.Name, Next: next, Others: others, MaxCoverage: src.MaxCoverage}
	if prev.Spec == src.Fingerprint() && len(prev.Entries) > 0 {
		u.Previous = prev.Entries
	}
	_, err := breakout.CheckUpdate(g, u)
	if err == nil {
		return nil
	}
	e.mu.Lock()
	forced := e.forceOnce[src.Spec.Name]
	delete(e.forceOnce, src.Spec.Name)
	e.mu.Unlock()
	if forced {
		e.log.Warn("breakout update taken by force = true (remove it from the config: later updates are guarded again)", "source", src.Spec.Name, "held", err)
		e.mu.Lock()
		e.forceInstall = true // and its install, past the backstop
		e.mu.Unlock()
		return nil
	}
	return err
}

// ErrNoSource: Accept named a source the Plan does not have.
var ErrNoSource = errors.New("no such breakout source")

// Accept takes, once, the update a source holds, as if the guards had let
// it through (`uplinkd breakout accept SOURCE`), and installs the outcome,
// past the churn backstop that would otherwise refuse the install for the
// same reason. With name "" it takes every held update, and an install the
// backstop refused. It returns the sources whose update it took.
func (e *Engine) Accept(name string) ([]string, error) {
	var taken []string
	if name == "" {
		taken = e.acceptAll()
	} else {
		if !e.configured(name) {
			return nil, fmt.Errorf("%w: %s", ErrNoSource, name)
		}
		n, err := e.store.Accept(name)
		if err != nil {
			return nil, err
		}
		e.log.Warn("breakout held update accepted by the operator", "source", name, "prefixes", n)
		taken = []string{name}
	}
	e.mu.Lock()
	e.forceInstall = true
	e.gen++
	e.mu.Unlock()
	_, err := e.reconcile()
	return taken, err
}

// acceptAll takes every held update.
func (e *Engine) acceptAll() []string {
	var taken []string
	for _, name := range e.store.HeldSources() {
		n, err := e.store.Accept(name)
		if err != nil {
			e.log.Warn("breakout accept", "source", name, "err", err)
			continue
		}
		e.log.Warn("breakout held update accepted", "source", name, "prefixes", n)
		taken = append(taken, name)
	}
	return taken
}

func (e *Engine) configured(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.plan.Sources {
		if s.Spec.Name == name {
			return true
		}
	}
	return false
}
