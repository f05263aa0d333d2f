package budget

import (
	"time"

	"github.com/uplinkd/uplinkd/internal/config"
)

// State is where an uplink stands against its budget.
type State string

// The states, in order.
const (
	OK   State = "ok"   // below the soft limit
	Soft State = "soft" // past the soft limit: its weight is lowered
	Hard State = "hard" // past the hard limit: a last resort only
)

// account is one uplink's count in the current period, as persisted.
type account struct {
	Uplink     string    `json:"uplink"`
	Interface  string    `json:"interface"`
	BillingDay int       `json:"billing_day"`
	Start      time.Time `json:"period_start"`
	// Since is when counting began in this period: the period's start,
	// or the first sample of an uplink new to the state file.
	Since     time.Time `json:"counting_since"`
	UsedBytes uint64    `json:"used_bytes"`
	// The interface's counter at the last sample, and what identifies
	// that counter: the same index under the same boot continues it.
	Counter uint64    `json:"counter_bytes"`
	IfIndex int       `json:"ifindex"`
	BootID  string    `json:"boot_id"`
	Sampled time.Time `json:"sampled"`
}

// rollover starts a new period when now is past the current one's end. A
// clock that went backwards (a router without a real-time clock, before
// NTP) never resets the count, nor does it move the period back.
func (a *account) rollover(now time.Time, day int) {
	start, _ := Period(now, day)
	switch {
	case a.Start.IsZero():
		a.Start, a.Since, a.BillingDay = start, now, day
	case a.BillingDay != day:
		// The billing day was changed: the count carries over.
		a.Start, a.BillingDay = start, day
		a.Since = later(a.Since, start)
	case start.After(a.Start) && !now.Before(a.Sampled):
		a.Start, a.Since, a.UsedBytes = start, start, 0
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// observe adds what the interface carried since the last sample. A
// counter that cannot be the same one (another interface index, another
// boot, or smaller than last seen) started again from 0, so all of it is
// new. The first sample of an account is only a baseline.
func (a *account) observe(s Sample, boot, ifname string, now time.Time) {
	switch {
	case a.Sampled.IsZero() || a.Interface != ifname:
	case s.Index != a.IfIndex || boot != a.BootID || s.Bytes < a.Counter:
		a.UsedBytes += s.Bytes
	default:
		a.UsedBytes += s.Bytes - a.Counter
	}
	a.Interface, a.Counter, a.IfIndex, a.BootID = ifname, s.Bytes, s.Index, boot
	a.Sampled = later(a.Sampled, now)
}

// classify says where used stands against b.
func classify(used uint64, b config.Budget) State {
	switch u, n := float64(used)*100, float64(b.Bytes); {
	case u >= n*float64(b.HardPercent):
		return Hard
	case u >= n*float64(b.SoftPercent):
		return Soft
	}
	return OK
}

// minProjection is how much of a period must be counted before a linear
// projection means anything: the first minutes' rate says little.
const minProjection = time.Hour

// project extends the usage linearly from the time counted to the end of
// the period; 0 until minProjection has been counted.
func project(used uint64, since, now, end time.Time) uint64 {
	counted := now.Sub(since)
	if counted < minProjection || !end.After(now) {
		return 0
	}
	return used + uint64(float64(used)*float64(end.Sub(now))/float64(counted))
}
