package bfd

import (
	"math/rand/v2"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestTxInterval(t *testing.T) {
	for _, tc := range []struct {
		name        string
		desired     time.Duration
		remoteMinRx uint32
		want        time.Duration
		ok          bool
	}{
		{"initial remote 1µs: ours wins", 100 * ms, 1, 100 * ms, true},
		{"slow start", slowTx, 100000, slowTx, true},
		{"remote slower", 100 * ms, 300000, 300 * ms, true},
		{"remote faster", 100 * ms, 10000, 100 * ms, true},
		{"remote wants none", 100 * ms, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := txInterval(tc.desired, tc.remoteMinRx)
			if got != tc.want || ok != tc.ok {
				t.Errorf("txInterval = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestDetectTime(t *testing.T) {
	for _, tc := range []struct {
		name            string
		requiredRx      time.Duration
		remoteDesiredTx uint32
		remoteMult      uint8
		want            time.Duration
	}{
		{"100ms x 3", 100 * ms, 100000, 3, 300 * ms},
		{"peer not up yet sends at 1s", 100 * ms, 1000000, 3, 3 * time.Second},
		{"we receive slower than peer sends", 300 * ms, 100000, 3, 900 * ms},
		{"peer multiplier counts, not ours", 100 * ms, 100000, 5, 500 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := detectTime(tc.requiredRx, tc.remoteDesiredTx, tc.remoteMult); got != tc.want {
				t.Errorf("detectTime = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		mult   uint8
		lo, hi time.Duration
	}{
		{3, 75 * ms, 100 * ms},
		{1, 75 * ms, 90 * ms}, // §6.8.7: with multiplier 1, at most 90 %
	} {
		seenLo, seenHi := time.Hour, time.Duration(0)
		for range 10000 {
			d := jitter(100*ms, tc.mult, r)
			if d < tc.lo || d > tc.hi {
				t.Fatalf("jitter(100ms, mult %d) = %v, outside [%v, %v]", tc.mult, d, tc.lo, tc.hi)
			}
			seenLo, seenHi = min(seenLo, d), max(seenHi, d)
		}
		if seenLo != tc.lo || seenHi != tc.hi {
			t.Errorf("mult %d: jitter spans [%v, %v], want the whole [%v, %v]", tc.mult, seenLo, seenHi, tc.lo, tc.hi)
		}
	}
}
