package nat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// ReadBackEvery is how often the daemon reads the table and the sysctls
// back: a firewall reload (`nft flush ruleset`) or a script that turns
// forwarding off is repaired within this long.
const ReadBackEvery = 10 * time.Second

// Status is what `uplinkd status` and the metrics show of NAT and
// forwarding.
type Status struct {
	Rules      int       `json:"rules"`      // masquerade rules wanted
	Forwarding bool      `json:"forwarding"` // IPv4 and IPv6 forwarding on at the last read-back
	CheckedAt  time.Time `json:"checked_at,omitzero"`
	// Repairs counts drift the read-back found and put right (a table
	// rewritten, a sysctl set again) since the daemon started; changes of
	// the config are not repairs.
	Repairs    uint64    `json:"repairs"`
	LastRepair time.Time `json:"last_repair,omitzero"`
	// LastRepairWhat says what the last repair changed.
	LastRepairWhat string `json:"last_repair_what,omitempty"`
	Error          string `json:"error,omitempty"`
}

// Reconciler keeps uplinkd's nftables table and the forwarding sysctls as
// desired: Apply on start and reload, Check (Run's timer) in between.
// Its methods are safe for concurrent use.
type Reconciler struct {
	k   Kernel
	log *slog.Logger

	mu   sync.Mutex
	want Desired
	st   Status
}

// NewReconciler returns a reconciler over k that has touched nothing yet.
func NewReconciler(k Kernel, log *slog.Logger) *Reconciler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{k: k, log: log}
}

// Apply makes d the desired state and reconciles to it now. What it
// changes is a config change, logged at info and not counted as a repair.
func (r *Reconciler) Apply(d Desired) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.want = d
	r.st.Rules = len(d.Rules())
	changed, err := r.reconcile()
	for _, c := range changed {
		r.log.Info("changed", "what", c)
	}
	return err
}

// Check reads the kernel back and repairs any drift from the state last
// applied, counting each repair. Before the first Apply it does nothing.
func (r *Reconciler) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.CheckedAt.IsZero() {
		return nil
	}
	repaired, err := r.reconcile()
	if len(repaired) > 0 {
		r.st.Repairs += uint64(len(repaired))
		r.st.LastRepair = r.st.CheckedAt
		r.st.LastRepairWhat = strings.Join(repaired, "; ")
		r.log.Warn("repaired drift in the kernel", "part", "nat", "what", r.st.LastRepairWhat)
	}
	return err
}

// Run checks every period until ctx ends; failures are logged and kept
// in Status, and the next period tries again.
func (r *Reconciler) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Check(); err != nil {
				r.log.Warn("nat read-back", "err", err)
			}
		}
	}
}

// Close removes uplinkd's table, if one was wanted. Forwarding stays on:
// turning it off could cut traffic that does not go through uplinkd.
func (r *Reconciler) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.want) == 0 {
		return nil
	}
	r.want = nil
	return r.k.RemoveTable()
}

// Status returns a copy of the current status.
func (r *Reconciler) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// reconcile reads back, diffs and applies: forwarding first (both roles
// route), then the table. It returns what it changed. Called with r.mu.
func (r *Reconciler) reconcile() ([]string, error) {
	changed, ferr := r.forwarding()
	tchanged, terr := r.table()
	changed = append(changed, tchanged...)
	err := errors.Join(ferr, terr)
	r.st.Forwarding = ferr == nil
	r.st.CheckedAt = time.Now()
	r.st.Error = ""
	if err != nil {
		r.st.Error = err.Error()
	}
	return changed, err
}

// forwarding turns on every forwarding sysctl that is off.
func (r *Reconciler) forwarding() ([]string, error) {
	var changed []string
	var errs []error
	for _, key := range forwardingKeys {
		v, err := r.k.Sysctl(key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v == "1" {
			continue
		}
		if err := r.k.SetSysctl(key, "1"); err != nil {
			errs = append(errs, err)
			continue
		}
		changed = append(changed, sysctlName(key)+" = 1 (was "+v+")")
	}
	return changed, errors.Join(errs...)
}

// table rewrites uplinkd's table when its rules differ from the desired
// ones, and removes it when none are desired.
func (r *Reconciler) table() ([]string, error) {
	have, present, err := r.k.Rules()
	if err != nil {
		return nil, err
	}
	want := r.want.Rules()
	switch {
	case len(want) == 0 && !present:
		return nil, nil
	case len(want) == 0:
		if err := r.k.RemoveTable(); err != nil {
			return nil, err
		}
		return []string{"nftables table " + TableName + " removed"}, nil
	case present && slices.Equal(have, want):
		return nil, nil
	}
	if err := r.k.WriteTable(r.want); err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("nftables table %s written: %d masquerade rules (found %s)",
		TableName, len(want), found(have, present))}, nil
}

// found describes the table as it was read back.
func found(have []string, present bool) string {
	if !present {
		return "no table"
	}
	return fmt.Sprintf("%d rules", len(have))
}

// sysctlName writes a /proc/sys key as sysctl(8) does.
func sysctlName(key string) string { return strings.ReplaceAll(key, "/", ".") }
