package api

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/budget"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/sla"
)

// TestWriteBudgets: usage, the period, the projection and the action taken
// are in the status a user reads, and each limited tunnel says why.
func TestWriteBudgets(t *testing.T) {
	now := time.Date(2026, 5, 28, 0, 0, 0, 0, time.UTC)
	st := Status{Site: "home",
		ECMP: &ecmp.Status{Links: []ecmp.LinkStatus{
			{Name: "docomo", Weight: 3, BFD: "Up", InECMP: true, BudgetLimit: "soft", BudgetWeight: 1},
			{Name: "softbank", Weight: 2, BFD: "Up", BudgetLimit: "hard", BudgetWeight: 1},
		}},
		Budgets: []budget.Status{
			{Uplink: "docomo", Interface: "wwan0", UsedBytes: 850e6, BudgetBytes: 1e9, UsedPercent: 85, SoftPercent: 80, HardPercent: 95,
				PeriodStart: time.Date(2026, 5, 25, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 6, 25, 0, 0, 0, 0, time.UTC),
				ProjectedBytes: 8783333333, State: budget.Soft, Action: "soft limit 80 % reached: weight 3 → 1"},
			{Uplink: "softbank", Interface: "wwan1", UsedBytes: 29_100_000_000, BudgetBytes: 30e9, UsedPercent: 97, SoftPercent: 80, HardPercent: 95,
				PeriodStart: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
				State: budget.Hard, Action: "hard limit 95 % reached: last resort", Error: "read counters of wwan1: link not found"},
		}}
	var b strings.Builder
	if err := WriteStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"budget soft limit: weight 3 → 1\n",
		"budget hard limit: last resort\n",
		"docomo       wwan0      850 MB (85.0 %)   1 GB    2026-05-25 → 2026-06-25 (resets in 28d0h)  8.78 GB (878 %)  soft   soft limit 80 % reached: weight 3 → 1\n",
		"softbank     wwan1      29.1 GB (97.0 %)  30 GB   2026-05-01 → 2026-06-01 (resets in 4d0h)   -                hard   hard limit 95 % reached: last resort\n",
		"budget softbank: read counters of wwan1: link not found\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

// TestWriteSLA: each tunnel's probe, figures and state: judged and
// degraded with its reason, or only measured.
func TestWriteSLA(t *testing.T) {
	var b strings.Builder
	err := writeSLA(&b, []sla.LinkStatus{
		{Link: "docomo", Target: netip.MustParseAddr("198.18.100.0"), Judging: true, Limits: true, Probe: "bfd", Samples: 10,
			RTTMs: 312.5, LossPercent: 0, Degraded: true, Reason: "rtt 312 ms > 200 ms for 1 s"},
		{Link: "softbank", Target: netip.MustParseAddr("198.18.100.2"), Judging: true, Probe: "bfd", Samples: 10, RTTMs: 21.2},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"docomo    198.18.100.0  bfd    312.5 ms",
		"degraded             rtt 312 ms > 200 ms for 1 s",
		"softbank  198.18.100.2  bfd    21.2 ms",
		"measured (no limit)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("SLA table lacks %q:\n%s", want, out)
		}
	}
}
