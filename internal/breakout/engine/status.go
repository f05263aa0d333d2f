package engine

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// Status is a snapshot of the engine, cheap to take: counts come from the
// last install, never from a dump of the table.
type Status struct {
	Sources []SourceStatus `json:"sources"`
	Compile CompileStatus  `json:"compile"`
	Gateway GatewayStatus  `json:"gateway"`
	// Withdrawn is "" while breakout routes traffic, else why not,
	// e.g. "withdrawn: gateway down".
	Withdrawn string `json:"withdrawn,omitempty"`
	// ReadBack is what the timed read-backs of the rule and table found
	// and repaired.
	ReadBack ReadBackStatus `json:"read_back"`
	// Warnings are conditions that do not stop breakout but weaken its
	// guards, e.g. a hub endpoint whose name does not resolve.
	Warnings []string `json:"warnings,omitempty"`
}

// SourceStatus is one source's last good set and its latest refresh.
type SourceStatus struct {
	Name        string        `json:"name"`
	Kind        feed.Kind     `json:"kind"`
	Prefixes    int           `json:"prefixes"`              // entries in the last good set
	LastSuccess time.Time     `json:"last_success,omitzero"` // zero if the source never succeeded
	Age         time.Duration `json:"-"`                     // since LastSuccess; 0 if never (JSON: age_seconds)
	Stale       bool          `json:"stale"`                 // the latest refresh failed; the last good set stays
	Restored    bool          `json:"restored"`              // the set comes from disk, not refreshed in this run yet
	LastError   string        `json:"last_error,omitempty"`
	NextRefresh time.Time     `json:"next_refresh,omitzero"`
	// Held is set while the source holds a fetched update the guards
	// refused: its last good set stays installed and saved until
	// `uplinkd breakout accept SOURCE` (or force = true) takes it, or the
	// feed comes back within the limits.
	Held         bool      `json:"held"`
	HeldReason   string    `json:"held_reason,omitempty"`
	HeldSince    time.Time `json:"held_since,omitzero"`
	HeldPrefixes int       `json:"held_prefixes,omitempty"` // entries of the held set
}

// CompileStatus describes the desired set and the last install.
type CompileStatus struct {
	Table        uint32        `json:"table"`
	RulePriority int           `json:"rule_priority"`
	RulePresent  bool          `json:"rule_present"`         // the policy rule is in: breakout routes traffic
	RuleError    string        `json:"rule_error,omitempty"` // the last rule change failed
	Desired      int           `json:"desired"`              // prefixes of the latest compiled set
	Installed    int           `json:"installed"`            // routes in the table after the last install
	Accepted     int           `json:"accepted"`             // source entries that passed the guards
	Rejected     []RejectCount `json:"rejected"`
	// Rejections are the first refused entries, with the detail of each.
	Rejections   []breakout.Rejection `json:"rejections"`
	LastCompile  time.Time            `json:"last_compile,omitzero"`
	CompileTook  time.Duration        `json:"-"`                     // JSON: compile_took_ms
	LastInstall  time.Time            `json:"last_install,omitzero"` // of the last Sync
	InstallTook  time.Duration        `json:"-"`                     // of the last Sync; JSON: install_took_ms
	Added        int                  `json:"added"`                 // by the last Sync
	Replaced     int                  `json:"replaced"`
	Deleted      int                  `json:"deleted"`
	Unchanged    int                  `json:"unchanged"`
	ChurnBlocked bool                 `json:"churn_blocked"`          // the latest install would withdraw too much (the backstop); waits for force
	Pending      int                  `json:"pending"`                // with ChurnBlocked: prefixes the refused install would delete
	LastError    string               `json:"last_error,omitempty"`   // why the latest compile or install failed
	MarkerError  string               `json:"marker_error,omitempty"` // the table and priority in use could not be saved (see marker.go)
}

// RejectCount counts refused entries per source and reason.
type RejectCount struct {
	Source string          `json:"source"`
	Reason breakout.Reason `json:"reason"`
	Count  int             `json:"count"`
}

// GatewayStatus is the breakout gateway's health.
type GatewayStatus struct {
	Addr      netip.Addr    `json:"address"`
	Probing   bool          `json:"probing"` // false: disabled, or no probe socket (see LastError)
	Healthy   bool          `json:"healthy"`
	Since     time.Time     `json:"since,omitzero"` // of the latest change of Healthy
	LastRTT   time.Duration `json:"-"`              // JSON: last_rtt_ms
	LastProbe time.Time     `json:"last_probe,omitzero"`
	Misses    int           `json:"misses"` // consecutive
	LastError string        `json:"last_error,omitempty"`
}

// maxStatusRejections bounds the rejections Status carries.
const maxStatusRejections = 20

// Status returns a snapshot.
func (e *Engine) Status() Status {
	e.mu.Lock()
	p, cs, hs, rb := e.plan, e.cs, e.hs, e.rbStatus
	warnings := slices.Clone(e.endpoints.warnings)
	next := map[string]time.Time{}
	for name, r := range e.runners {
		next[name] = r.next
	}
	e.mu.Unlock()
	cs.Rejected = slices.Clone(cs.Rejected)
	st := Status{Sources: e.sourceStatus(p, next, time.Now()), Compile: cs, Gateway: GatewayStatus{
		Addr: p.Gateway, Probing: hs.Probing, Healthy: hs.Healthy, Since: hs.Since, LastRTT: hs.LastRTT,
		LastProbe: hs.LastProbe, Misses: hs.Misses, LastError: hs.LastError,
	}, ReadBack: rb, Warnings: warnings}
	st.ReadBack.IntervalSeconds = p.ReadBack.Seconds()
	if !p.Health.Disabled && !hs.Healthy {
		st.Withdrawn = "withdrawn: gateway down"
	}
	return st
}

func (e *Engine) sourceStatus(p Plan, next map[string]time.Time, now time.Time) []SourceStatus {
	out := make([]SourceStatus, 0, len(p.Sources))
	for _, cfg := range p.Sources {
		s := SourceStatus{Name: cfg.Spec.Name, Kind: cfg.Spec.Kind, NextRefresh: next[cfg.Spec.Name]}
		if st, ok := e.store.Get(cfg.Spec.Name); ok {
			s.Prefixes, s.LastSuccess, s.Stale = len(st.Entries), st.LastSuccess, st.Stale()
			s.Restored, s.LastError = st.Restored, st.LastError
			if s.LastError == "" && st.SaveError != "" {
				s.LastError = "set in use but not saved: " + st.SaveError
			}
			if !st.LastSuccess.IsZero() {
				s.Age = st.Age(now)
			}
			if h := st.Held; h != nil {
				s.Held, s.HeldReason, s.HeldSince, s.HeldPrefixes = true, h.Reason, h.Since, len(h.Entries)
			}
		}
		out = append(out, s)
	}
	return out
}

// recordInstall keeps what a Sync reached, for Status and Explain.
func (e *Engine) recordInstall(res *breakout.Result, installed []netip.Prefix, st fib.SyncStats, err error, compiled, took time.Duration) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	// Explain needs the set and its index, not the diff that led there.
	res.Add, res.Del = nil, nil
	e.installed, e.res = installed, res
	cs := &e.cs
	cs.Table, cs.RulePriority = e.plan.Table, e.plan.RulePriority
	cs.Desired, cs.Installed, cs.Accepted = len(res.Prefixes), len(installed), res.Accepted
	cs.Rejected, cs.Rejections = rejectCounts(res.Counts), clip(res.Rejected)
	cs.LastCompile, cs.CompileTook = now, compiled
	cs.LastInstall, cs.InstallTook = now, took
	cs.Added, cs.Replaced, cs.Deleted, cs.Unchanged = st.Added, st.Replaced, st.Deleted, st.Unchanged
	cs.ChurnBlocked, cs.Pending, cs.LastError = false, 0, errString(err)
}

// recordRefused notes a set the guards refused; the installed set, its
// counts and Explain stay as they were.
func (e *Engine) recordRefused(res breakout.Result, err error, compiled time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cs := &e.cs
	cs.Desired, cs.Accepted = len(res.Prefixes), res.Accepted
	cs.Rejected, cs.Rejections = rejectCounts(res.Counts), clip(res.Rejected)
	cs.LastCompile, cs.CompileTook = time.Now(), compiled
	cs.ChurnBlocked = errors.Is(err, breakout.ErrChurn)
	cs.Pending = 0
	if cs.ChurnBlocked {
		cs.Pending = len(res.Del)
	}
	cs.LastError = err.Error()
}

func (e *Engine) recordFailure(err error) {
	e.mu.Lock()
	e.cs.LastError = err.Error()
	e.mu.Unlock()
}

func rejectCounts(m map[breakout.RejectKey]int) []RejectCount {
	out := make([]RejectCount, 0, len(m))
	for k, n := range m {
		out = append(out, RejectCount{Source: k.Source, Reason: k.Reason, Count: n})
	}
	slices.SortFunc(out, func(a, b RejectCount) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(string(a.Reason), string(b.Reason)))
	})
	return out
}

func clip(rs []breakout.Rejection) []breakout.Rejection {
	return slices.Clone(rs[:min(len(rs), maxStatusRejections)])
}
