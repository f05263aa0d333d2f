package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// budgetKeys are the keys that only mean something with a budget.
var budgetKeys = []string{"billing_day", "budget_soft_percent", "budget_hard_percent", "budget_soft_weight"}

// budget validates an [[uplink]]'s data budget; weight is the uplink's
// ECMP weight, which the soft limit must have room to lower.
func (v *validator) budget(p string, u rawUplink, weight int) Budget {
	if !v.has(p + ".budget") {
		for _, k := range budgetKeys {
			if v.has(p + "." + k) {
				v.errorf(p+"."+k, `means nothing without a budget (add budget = "30GB", the carrier's allowance per billing period, or remove %s)`, k)
			}
		}
		return Budget{}
	}
	b := Budget{
		Bytes:       v.budgetBytes(p+".budget", u),
		BillingDay:  int(v.intIn(p+".billing_day", u.BillingDay, DefaultBillingDay, 1, 31, "the day of the month the carrier's allowance starts again; 31 means the last day of shorter months")),
		SoftPercent: int(v.intIn(p+".budget_soft_percent", u.BudgetSoft, DefaultBudgetSoftPercent, 1, 99, "percent of the budget at which the weight drops")),
		HardPercent: int(v.intIn(p+".budget_hard_percent", u.BudgetHard, DefaultBudgetHardPercent, 2, 100, "percent of the budget at which the uplink becomes a last resort; past 100 the carrier charges or throttles")),
		SoftWeight:  int(v.intIn(p+".budget_soft_weight", u.SoftWeight, DefaultBudgetSoftWeight, 1, 255, "the ECMP weight above the soft limit")),
	}
	if b.SoftPercent >= b.HardPercent {
		key, other, def := "budget_soft_percent", "budget_hard_percent", ""
		if !v.has(p + "." + key) {
			key, other = other, key
			def = " (its default)"
		}
		v.errorf(p+"."+key, "soft limit %d %% is not below hard limit %d %% (%s%s; the soft limit lowers the weight on the way to the hard one, e.g. 80 and 95)",
			b.SoftPercent, b.HardPercent, other, def)
	}
	if b.SoftWeight >= weight {
		key := p + ".budget_soft_weight"
		if !v.has(key) {
			key = p + ".budget"
		}
		v.errorf(key, "the soft limit lowers the weight to %d, and weight is %d (give the uplinks larger weights, e.g. 4 each for equal shares, so that the drop to budget_soft_weight is real)", b.SoftWeight, weight)
	}
	return b
}

func (v *validator) budgetBytes(path string, u rawUplink) int64 {
	const hint = `write the allowance per billing period with a unit, e.g. "30GB" (10^9 bytes, as carriers count) or "30GiB" (2^30), or a whole number of bytes`
	n, err := u.BudgetBytes, error(nil)
	if u.Budget != "" {
		n, err = ParseBytes(u.Budget)
		if err != nil {
			v.errorf(path, "%q is not a size (%s)", u.Budget, hint)
			return 0
		}
	}
	if n <= 0 {
		v.errorf(path, "must be more than 0 bytes (%s; leave budget out for none)", hint)
		return 0
	}
	return n
}

// byteUnits are the suffixes ParseBytes takes, lowercased: decimal ones as
// carriers bill, binary ones as tools print.
var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseBytes reads a size such as "30GB", "1.5 TB" or "512MiB": GB is
// 10^9 bytes, GiB 2^30.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", s[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", num)
	}
	f *= mult
	if f >= math.MaxInt64 {
		return 0, fmt.Errorf("%s is too large", s)
	}
	return int64(f), nil
}
