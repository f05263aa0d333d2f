package units

import (
	"testing"
	"time"
)

func TestMillisRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 312 * time.Millisecond, 1234567 * time.Nanosecond, time.Hour} {
		if got := FromMillis(Millis(d)); got != d {
			t.Errorf("FromMillis(Millis(%v)) = %v", d, got)
		}
	}
	if got := FromSeconds((90 * time.Second).Seconds()); got != 90*time.Second {
		t.Errorf("FromSeconds = %v", got)
	}
	if got := Millis(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("Millis(1.5ms) = %v, want 1.5", got)
	}
}
