package daemon

import (
	"context"
	"path/filepath"
	"time"

	"github.com/uplinkd/uplinkd/internal/budget"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp"
)

// The budget meter reads the carriers' counters every budgetSampleEvery
// (a netlink dump of one link each: cheap) and writes them to the state
// directory every budgetSaveEvery and on stop. A kill -9 loses nothing
// the interface counters still hold; a reboot or power loss loses at most
// budgetSaveEvery of counting.
const (
	budgetSampleEvery = 10 * time.Second
	budgetSaveEvery   = 60 * time.Second
)

// syncBudget starts the meter once an uplink has a budget and passes a new
// config's budgets to it; the limits go to ecmp at once.
func (d *Daemon) syncBudget(ctx context.Context, cfg *config.Config) {
	d.mu.Lock()
	m := d.meter
	d.mu.Unlock()
	if m == nil && !hasBudget(cfg) {
		return
	}
	if m == nil {
		m = budget.Open(filepath.Join(cfg.StateDir, "budget"), budget.Netlink{}, budget.BootID(), time.Now, d.log.With("part", "budget"))
		m.Configure(cfg.Uplinks)
		m.Sample()
		run, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.Run(run, budgetSampleEvery, budgetSaveEvery, d.setLimits)
		}()
		d.mu.Lock()
		d.meter, d.stopMeter = m, func() { cancel(); <-done }
		d.mu.Unlock()
	} else {
		m.Configure(cfg.Uplinks)
		m.Sample()
	}
	d.setLimits(m.States())
}

// stopBudget takes a last sample and saves it.
func (d *Daemon) stopBudget() {
	d.mu.Lock()
	stop := d.stopMeter
	d.meter, d.stopMeter = nil, nil
	d.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func hasBudget(cfg *config.Config) bool {
	for _, u := range cfg.Uplinks {
		if u.Budget.Bytes > 0 {
			return true
		}
	}
	return false
}

// setLimits hands the carriers' budget states to ecmp.
func (d *Daemon) setLimits(states map[string]budget.State) {
	d.mu.Lock()
	ctl := d.ecmp
	d.mu.Unlock()
	if ctl != nil {
		ctl.SetLimits(ecmpLimits(states))
	}
}

// ecmpLimits maps budget states to what ecmp does about them.
func ecmpLimits(states map[string]budget.State) map[string]ecmp.Limit {
	out := map[string]ecmp.Limit{}
	for uplink, st := range states {
		switch st {
		case budget.Soft:
			out[uplink] = ecmp.SoftLimit
		case budget.Hard:
			out[uplink] = ecmp.HardLimit
		}
	}
	return out
}

// budgetStatus is the meter's status; nil without budgets.
func (d *Daemon) budgetStatus() []budget.Status {
	d.mu.Lock()
	m := d.meter
	d.mu.Unlock()
	if m == nil {
		return nil
	}
	return m.Status()
}
