package budget

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/uplinkd/uplinkd/internal/config"
)

// Meter counts the budgeted uplinks' bytes. Sample reads the counters,
// Save persists the counts; Run does both on timers.
type Meter struct {
	dir  string
	read Reader
	boot string
	now  func() time.Time
	log  *slog.Logger

	mu       sync.Mutex
	uplinks  []config.Uplink // those with a budget
	accounts map[string]*account
	states   map[string]State
	errs     map[string]error // the last read of each uplink's counters
	loadErr  error
	saved    time.Time
	saveErr  error
}

// Open returns a meter that keeps its state in dir, restoring the counts
// saved there. A state file that cannot be read is reported in status and
// the count starts again from 0 (the file is replaced at the next save).
func Open(dir string, read Reader, bootID string, now func() time.Time, log *slog.Logger) *Meter {
	m := &Meter{dir: dir, read: read, boot: bootID, now: now, log: log,
		accounts: map[string]*account{}, states: map[string]State{}, errs: map[string]error{}}
	accts, err := load(dir)
	if err != nil {
		log.Error("budget counts lost: starting from 0", "err", err)
		m.loadErr = err
	}
	for _, a := range accts {
		m.accounts[a.Uplink] = a
	}
	return m
}

// Configure sets the uplinks to count (those with a budget); an uplink's
// count survives as long as it keeps a budget.
func (m *Meter) Configure(uplinks []config.Uplink) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.uplinks = m.uplinks[:0]
	keep := map[string]bool{}
	for _, u := range uplinks {
		if u.Budget.Bytes > 0 {
			m.uplinks = append(m.uplinks, u)
			keep[u.Name] = true
		}
	}
	maps.DeleteFunc(m.accounts, func(name string, _ *account) bool { return !keep[name] })
	maps.DeleteFunc(m.states, func(name string, _ State) bool { return !keep[name] })
}

// Sample reads every budgeted uplink's counters, adds what they carried,
// and reports whether any uplink's state changed.
func (m *Meter) Sample() bool {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, u := range m.uplinks {
		a := m.accounts[u.Name]
		if a == nil {
			a = &account{Uplink: u.Name}
			m.accounts[u.Name] = a
		}
		a.rollover(now, u.Budget.BillingDay)
		s, err := m.read.Read(u.Interface)
		if err != nil && !sameErr(err, m.errs[u.Name]) {
			m.log.Warn("budget: counters not read", "uplink", u.Name, "err", err)
		}
		m.errs[u.Name] = err
		if err == nil {
			a.observe(s, m.boot, u.Interface, now)
		}
		st := classify(a.UsedBytes, u.Budget)
		if st != m.state(u.Name) {
			m.log.Info("budget", "uplink", u.Name, "state", st, "used_bytes", a.UsedBytes, "budget_bytes", u.Budget.Bytes)
			changed = true
		}
		m.states[u.Name] = st
	}
	return changed
}

func (m *Meter) state(uplink string) State {
	if st, ok := m.states[uplink]; ok {
		return st
	}
	return OK
}

// States returns each budgeted uplink's state as of the last sample.
func (m *Meter) States() map[string]State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.states)
}

// Save writes the counts to the state file.
func (m *Meter) Save() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	f := stateFile{Version: fileVersion, Saved: now}
	for _, name := range slices.Sorted(maps.Keys(m.accounts)) {
		f.Accounts = append(f.Accounts, m.accounts[name])
	}
	m.saveErr = save(m.dir, f)
	if m.saveErr == nil {
		m.saved = now
	}
	return m.saveErr
}

// Run samples every sampleEvery and saves every saveEvery, calling
// onChange with the states after a sample that changed one. When ctx ends
// it samples and saves a last time. A kill -9 loses nothing the counters
// still hold; a reboot or power loss loses what was counted after the
// last save.
func (m *Meter) Run(ctx context.Context, sampleEvery, saveEvery time.Duration, onChange func(map[string]State)) {
	sample := time.NewTicker(sampleEvery)
	defer sample.Stop()
	persist := time.NewTicker(saveEvery)
	defer persist.Stop()
	for {
		select {
		case <-ctx.Done():
			m.Sample()
			m.saveLogged()
			return
		case <-sample.C:
			if m.Sample() {
				onChange(m.States())
			}
		case <-persist.C:
			m.saveLogged()
		}
	}
}

func (m *Meter) saveLogged() {
	if err := m.Save(); err != nil {
		m.log.Warn("budget state not saved", "dir", m.dir, "err", err)
	}
}

// Status describes every budgeted uplink, in config order.
func (m *Meter) Status() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []Status
	for _, u := range m.uplinks {
		b := u.Budget
		st := Status{Uplink: u.Name, Interface: u.Interface, BudgetBytes: b.Bytes,
			SoftPercent: b.SoftPercent, HardPercent: b.HardPercent, State: m.state(u.Name), Saved: m.saved}
		st.PeriodStart, st.PeriodEnd = Period(now, b.BillingDay)
		if a := m.accounts[u.Name]; a != nil {
			st.UsedBytes, st.CountingSince = a.UsedBytes, a.Since
			st.ProjectedBytes = project(a.UsedBytes, a.Since, now, st.PeriodEnd)
		}
		st.UsedPercent = float64(st.UsedBytes) * 100 / float64(b.Bytes)
		st.Action = action(st.State, b.SoftPercent, b.HardPercent, u.Weight, b.SoftWeight)
		if err := errors.Join(m.errs[u.Name], m.loadErr, m.saveErr); err != nil {
			st.Error = err.Error()
		}
		out = append(out, st)
	}
	return out
}

// sameErr: a read that keeps failing the same way is logged once.
func sameErr(a, b error) bool { return b != nil && a.Error() == b.Error() }
