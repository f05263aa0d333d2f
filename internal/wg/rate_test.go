package wg

import (
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	m := &Manager{}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		after  time.Duration
		rx, tx int64
		wantRx float64
	}{
		{0, 1000, 500, 0},                  // first sample: no rate yet
		{time.Second, 2000, 600, 0},        // under the window: still none
		{2 * time.Second, 5000, 900, 2000}, // 4000 bytes in 2 s
		{3 * time.Second, 9000, 900, 2000}, // under the window again: last rate
		{4 * time.Second, 13000, 900, 4000},
		{5 * time.Second, 10, 10, 0}, // counters reset: start over
	}
	for _, s := range steps {
		if rx, _ := m.rate("wg0", s.rx, s.tx, t0.Add(s.after)); rx != s.wantRx {
			t.Errorf("at +%s: rx rate %v, want %v", s.after, rx, s.wantRx)
		}
	}
}
