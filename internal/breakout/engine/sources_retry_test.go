package engine

import (
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		failures int
		want     time.Duration
	}{{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second}, {9, 15 * time.Minute}, {50, 15 * time.Minute}} {
		if got := retryAfter(tt.failures); got != tt.want {
			t.Errorf("retryAfter(%d) = %s, want %s", tt.failures, got, tt.want)
		}
	}
}
