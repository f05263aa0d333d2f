package api

import (
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout/engine"
)

// TestWriteBreakoutHeld: a held source, an unresolved endpoint and the
// read-back's repairs are in the status a user reads.
func TestWriteBreakoutHeld(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	st := Status{Site: "home", Breakout: &engine.Status{
		Sources: []engine.SourceStatus{
			{Name: "aws", Kind: "aws", Prefixes: 1000, LastSuccess: now.Add(-time.Hour), Held: true, HeldSince: now.Add(-10 * time.Minute),
				HeldPrefixes: 10, HeldReason: "update of source aws held: it removes 990 of 1000 prefixes (99.0%, limit 50.0%)"},
			{Name: "office", Kind: "static", Prefixes: 1, LastSuccess: now.Add(-time.Hour)},
		},
		Warnings: []string{"docomo hub endpoint hub.example.net:51820: does not resolve (no such host): its address is not protected from breakout routes"},
		ReadBack: engine.ReadBackStatus{IntervalSeconds: 30, RuleRepairs: 1, RouteRepairs: 2, LastRepair: now.Add(-time.Minute), LastRepairWhat: "rule: ipv4 rule pref 6100 lookup 6100 was missing"},
	}}
	var b strings.Builder
	if err := WriteStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"warning: docomo hub endpoint hub.example.net:51820: does not resolve (no such host): its address is not protected from breakout routes\n",
		"read-back every 30s: 1 rule and 2 route repairs, last 1m00s ago (rule: ipv4 rule pref 6100 lookup 6100 was missing)\n",
		"held 10m00s ago (10 fetched)",
		"update of source aws held: it removes 990 of 1000 prefixes (99.0%, limit 50.0%) (`uplinkd breakout accept aws` takes it, once)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
