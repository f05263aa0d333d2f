package budget

import (
	"fmt"
	"github.com/uplinkd/uplinkd/internal/config"
	"time"
)

// Status is one uplink's usage against its budget, for status and metrics.
type Status struct {
	Uplink      string    `json:"uplink"`
	Interface   string    `json:"interface"`
	UsedBytes   uint64    `json:"used_bytes"`
	BudgetBytes int64     `json:"budget_bytes"`
	UsedPercent float64   `json:"used_percent"`
	SoftPercent int       `json:"soft_percent"`
	HardPercent int       `json:"hard_percent"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	// CountingSince is when this period's count began: its start, or
	// later for an uplink first counted within it.
	CountingSince time.Time `json:"counting_since"`
	// ProjectedBytes is the usage at the period's end at the rate so far;
	// absent in the first hour of counting.
	ProjectedBytes uint64 `json:"projected_bytes,omitempty"`
	State          State  `json:"state"`
	// Action is what the state does to the uplink, for people.
	Action string    `json:"action,omitempty"`
	Saved  time.Time `json:"saved,omitzero"` // when the count was last written to disk
	Error  string    `json:"error,omitempty"`
}

// action says what a state does to an uplink of the given weights.
func action(st State, soft, hard, weight, softWeight int) string {
	switch st {
	case Soft:
		return fmt.Sprintf("soft limit %d %% reached: weight %d → %d (the hubs too, by BGP link bandwidth)", soft, weight, softWeight)
	case Hard:
		return fmt.Sprintf("hard limit %d %% reached: last resort, its tunnels carry traffic only while no other uplink's tunnel is alive; "+
			"the hubs are told by BGP (our AS prepended %d times on its tunnels' sessions)", hard, config.BudgetPrepend)
	}
	return ""
}
