package metrics

import "github.com/uplinkd/uplinkd/internal/budget"

// Data budgets per carrier.
var (
	descBudgetUsed      = desc("uplink_budget_used_bytes", "Bytes the uplink's underlay interface sent and received in the current billing period (what the carrier bills); back to 0 on the billing day.", "uplink")
	descBudgetBytes     = desc("uplink_budget_bytes", "The uplink's data budget per billing period.", "uplink")
	descBudgetProjected = desc("uplink_budget_projected_bytes", "Bytes the uplink will have used at the end of the period at the rate so far; absent in the first hour of counting.", "uplink")
	descBudgetState     = desc("uplink_budget_state", "1 for the uplink's budget state, 0 for the others: ok, soft (past the soft limit: weight lowered), hard (past the hard limit: last resort only).", "uplink", "state")
	descBudgetPeriodEnd = desc("uplink_budget_period_end_timestamp_seconds", "When the uplink's billing period ends and its count starts again, as a Unix time.", "uplink")
	descBudgetSaved     = desc("uplink_budget_saved_timestamp_seconds", "When the uplink's count was last written to the state directory, as a Unix time.", "uplink")
)

var budgetStates = []budget.State{budget.OK, budget.Soft, budget.Hard}

// budgets emits each budgeted uplink's usage and state.
func (e emitter) budgets(bs []budget.Status) {
	for _, b := range bs {
		e.gauge(descBudgetUsed, float64(b.UsedBytes), b.Uplink)
		e.gauge(descBudgetBytes, float64(b.BudgetBytes), b.Uplink)
		if b.ProjectedBytes > 0 {
			e.gauge(descBudgetProjected, float64(b.ProjectedBytes), b.Uplink)
		}
		for _, st := range budgetStates {
			e.flag(descBudgetState, b.State == st, b.Uplink, string(st))
		}
		e.timestamp(descBudgetPeriodEnd, b.PeriodEnd, b.Uplink)
		e.timestamp(descBudgetSaved, b.Saved, b.Uplink)
	}
}
