package api

import (
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/nat"
)

// TestStatusShowsNATRepairs: an operator sees that the read-back repaired
// the table, when and what, and the last error.
func TestStatusShowsNATRepairs(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	st := Status{Role: "hub", Site: "vps", Started: now.Add(-time.Hour), NAT: &nat.Status{
		Rules: 3, Forwarding: true, CheckedAt: now.Add(-4 * time.Second), Repairs: 2,
		LastRepair:     now.Add(-90 * time.Second),
		LastRepairWhat: "nftables table uplinkd written: 3 masquerade rules (found no table)",
		Error:          "read nftables table uplinkd: operation not permitted",
	}}
	var b strings.Builder
	if err := WriteStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"nat: 3 masquerade rules, forwarding on, read back 4.0s ago; 2 repairs (last 1m30s ago: nftables table uplinkd written: 3 masquerade rules (found no table))\n",
		"nat error: read nftables table uplinkd: operation not permitted\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
