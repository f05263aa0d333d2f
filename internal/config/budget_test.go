package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// withBudget inserts keys into goodEdge's first [[uplink]] after its
// interface, from line 12 on.
func withBudget(t *testing.T, keys string) string {
	return edit(t, goodEdge, "interface = \"wwan0\"\n", "interface = \"wwan0\"\n"+keys)
}

func TestBudgetGood(t *testing.T) {
	tests := []struct {
		name string
		keys string
		want Budget
	}{
		{"none", "", Budget{}},
		{"decimal unit, defaults", "weight = 4\nbudget = \"30GB\"\n",
			Budget{Bytes: 30e9, BillingDay: 1, SoftPercent: 80, HardPercent: 95, SoftWeight: 1}},
		{"binary unit with a space", "weight = 4\nbudget = \"1.5 GiB\"\n",
			Budget{Bytes: 3 << 29, BillingDay: 1, SoftPercent: 80, HardPercent: 95, SoftWeight: 1}},
		{"bytes as an integer, every key", "weight = 4\nbudget = 1000000\nbilling_day = 31\nbudget_soft_percent = 75\nbudget_hard_percent = 100\nbudget_soft_weight = 2\n",
			Budget{Bytes: 1e6, BillingDay: 31, SoftPercent: 75, HardPercent: 100, SoftWeight: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse("t.toml", []byte(withBudget(t, tt.keys)), testKeys)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Uplinks[0].Budget); diff != "" {
				t.Errorf("budget (-want +got)\n%s", diff)
			}
		})
	}
}

func TestBudgetBad(t *testing.T) {
	tests := []struct {
		name string
		keys string
		want []string
	}{
		{"billing day 0", "weight = 4\nbudget = \"30GB\"\nbilling_day = 0\n", []string{
			`14:1: uplink[0].billing_day: 0 is out of range (1 to 31; the day of the month the carrier's allowance starts again; 31 means the last day of shorter months)`}},
		{"billing day 32", "weight = 4\nbudget = \"30GB\"\nbilling_day = 32\n", []string{
			`14:1: uplink[0].billing_day: 32 is out of range (1 to 31; the day of the month the carrier's allowance starts again; 31 means the last day of shorter months)`}},
		{"soft above hard", "weight = 4\nbudget = \"30GB\"\nbudget_soft_percent = 90\nbudget_hard_percent = 85\n", []string{
			`14:1: uplink[0].budget_soft_percent: soft limit 90 % is not below hard limit 85 % (budget_hard_percent; the soft limit lowers the weight on the way to the hard one, e.g. 80 and 95)`}},
		{"hard below the default soft", "weight = 4\nbudget = \"30GB\"\nbudget_hard_percent = 70\n", []string{
			`14:1: uplink[0].budget_hard_percent: soft limit 80 % is not below hard limit 70 % (budget_soft_percent (its default); the soft limit lowers the weight on the way to the hard one, e.g. 80 and 95)`}},
		{"negative budget", "weight = 4\nbudget = -5\n", []string{
			`13:1: uplink[0].budget: must be more than 0 bytes (write the allowance per billing period with a unit, e.g. "30GB" (10^9 bytes, as carriers count) or "30GiB" (2^30), or a whole number of bytes; leave budget out for none)`}},
		{"unknown unit", "weight = 4\nbudget = \"30 gigs\"\n", []string{
			`13:1: uplink[0].budget: "30 gigs" is not a size (write the allowance per billing period with a unit, e.g. "30GB" (10^9 bytes, as carriers count) or "30GiB" (2^30), or a whole number of bytes)`}},
		{"billing day without a budget", "billing_day = 5\n", []string{
			`12:1: uplink[0].billing_day: means nothing without a budget (add budget = "30GB", the carrier's allowance per billing period, or remove billing_day)`}},
		{"weight already at the soft weight", "budget = \"30GB\"\n", []string{
			`12:1: uplink[0].budget: the soft limit lowers the weight to 1, and weight is 1 (give the uplinks larger weights, e.g. 4 each for equal shares, so that the drop to budget_soft_weight is real)`}},
		{"soft weight above the weight", "weight = 2\nbudget = \"30GB\"\nbudget_soft_weight = 3\n", []string{
			`14:1: uplink[0].budget_soft_weight: the soft limit lowers the weight to 3, and weight is 2 (give the uplinks larger weights, e.g. 4 each for equal shares, so that the drop to budget_soft_weight is real)`}},
		{"soft percent out of range", "weight = 4\nbudget = \"30GB\"\nbudget_soft_percent = 100\nbudget_hard_percent = 100\n", []string{
			`14:1: uplink[0].budget_soft_percent: 100 is out of range (1 to 99; percent of the budget at which the weight drops)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(withBudget(t, tt.keys)), testKeys)
			if diff := cmp.Diff(tt.want, positions(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"30GB", 30e9, false}, {"30gb", 30e9, false}, {"30GiB", 30 << 30, false}, {"500 MB", 500e6, false},
		{"2TB", 2e12, false}, {"1024", 1024, false}, {"10kB", 10e3, false}, {"7 B", 7, false},
		{"GB", 0, true}, {"30 GBs", 0, true}, {"", 0, true}, {"1e3GB", 0, true}, {"99999999999TB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
