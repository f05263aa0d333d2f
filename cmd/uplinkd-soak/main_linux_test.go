package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/lab"
)

// TestGrowthFailsWhenUnmeasured: the soak's verdict fails when a reading
// of the baseline or of the end is missing; before, a baseline whose
// goroutines could not be read (-1) passed any end.
func TestGrowthFailsWhenUnmeasured(t *testing.T) {
	base := lab.ProcStatus{RSSKiB: 40960, Threads: 12, Goroutines: 100, HeapKiB: 8192}
	for _, tc := range []struct {
		name      string
		base, now lab.ProcStatus
		want      []string
	}{
		{"within the limit", base, lab.ProcStatus{RSSKiB: 45000, Threads: 13, Goroutines: 110}, nil},
		{"goroutines leak", base, lab.ProcStatus{RSSKiB: 40960, Threads: 12, Goroutines: 500},
			[]string{"goroutines grew from 100 to 500 (over +20%)"}},
		{"RSS grows", base, lab.ProcStatus{RSSKiB: 81920, Threads: 12, Goroutines: 100},
			[]string{"RSS grew from 40.0 MiB to 80.0 MiB (over +20%)"}},
		{"baseline goroutines unread", lab.ProcStatus{RSSKiB: 40960, Threads: 12, Goroutines: -1},
			lab.ProcStatus{RSSKiB: 40960, Threads: 12, Goroutines: 100000},
			[]string{"goroutines of the baseline could not be measured, so its growth cannot be checked"}},
		{"end goroutines unread", base, lab.ProcStatus{RSSKiB: 40960, Threads: 12, Goroutines: -1},
			[]string{"goroutines at the end could not be measured, so its growth cannot be checked"}},
		{"no baseline at all", lab.ProcStatus{}, base, []string{
			"goroutines of the baseline could not be measured, so its growth cannot be checked",
			"RSS of the baseline could not be measured, so its growth cannot be checked",
			"threads of the baseline could not be measured, so its growth cannot be checked",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, growthFailures(tc.base, tc.now, 20)); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBaselineNeedsEveryReading: a sample with a reading missing is not
// taken as the baseline.
func TestBaselineNeedsEveryReading(t *testing.T) {
	for _, tc := range []struct {
		p    lab.ProcStatus
		want bool
	}{
		{lab.ProcStatus{RSSKiB: 1, Threads: 1, Goroutines: 1}, true},
		{lab.ProcStatus{RSSKiB: 1, Threads: 1, Goroutines: 0}, false},
		{lab.ProcStatus{RSSKiB: 1, Threads: 1, Goroutines: -1}, false},
		{lab.ProcStatus{Threads: 1, Goroutines: 5}, false},
	} {
		if got := measured(tc.p); got != tc.want {
			t.Errorf("measured(%+v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}
