package units

import (
	"math"
	"time"
)

// Millis is d in milliseconds, fractions kept.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// FromMillis reads what Millis wrote, to the nearest nanosecond.
func FromMillis(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

// FromSeconds reads what time.Duration.Seconds wrote, to the nearest
// nanosecond.
func FromSeconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}
