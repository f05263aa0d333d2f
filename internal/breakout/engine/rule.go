package engine

import (
	"errors"
)

// syncRule makes the policy rules match the gateway's health: present
// while the gateway answers (or probing is off), absent while it is down.
// Deleting two rules withdraws a million routes at once and the table
// stays filled, so coming back is as quick. It reads the wanted state under
// ruleMu, so whichever of the health loop and a reconcile runs last wins
// with the latest state.
func (e *Engine) syncRule() error {
	e.ruleMu.Lock()
	defer e.ruleMu.Unlock()
	e.mu.Lock()
	want := e.plan.Health.Disabled || e.hs.Healthy
	l := e.cur
	e.mu.Unlock()
	var errs []error
	for _, r := range rulesFor(l) {
		if want {
			errs = append(errs, e.k.AddRule(r))
		} else {
			errs = append(errs, e.k.DelRule(r))
		}
	}
	// Anything else of ours at this priority (a table an earlier run used).
	errs = append(errs, e.deleteRules(l.Priority, rulesFor(l)))
	err := errors.Join(errs...)
	e.mu.Lock()
	if err == nil {
		e.cs.RulePresent = want
	}
	e.cs.RuleError = errString(err)
	e.mu.Unlock()
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
