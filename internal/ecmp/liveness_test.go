package ecmp

import (
	"testing"
	"time"
)

func TestLiveness(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	l := NewLiveness(2 * time.Second)
	steps := []struct {
		what  string
		set   *bool
		now   time.Duration
		alive bool
	}{
		{"unknown tunnel", nil, 0, false},
		{"first up: alive at once", ptr(true), 0, true},
		{"down: out at once", ptr(false), 5 * time.Second, false},
		{"back up: held", ptr(true), 6 * time.Second, false},
		{"still held 1.9 s later", nil, 7900 * time.Millisecond, false},
		{"hold-down over", nil, 8 * time.Second, true},
		{"flap down again", ptr(false), 9 * time.Second, false},
		{"up", ptr(true), 9100 * time.Millisecond, false},
		{"down within hold-down", ptr(false), 9500 * time.Millisecond, false},
		{"up again: hold-down restarts", ptr(true), 10 * time.Second, false},
		{"1.5 s after the last up", nil, 11500 * time.Millisecond, false},
		{"2 s after the last up", nil, 12 * time.Second, true},
	}
	for _, s := range steps {
		if s.set != nil {
			l.Set("docomo", *s.set, at(s.now))
		}
		if got := l.Alive("docomo", at(s.now)); got != s.alive {
			t.Errorf("%s: alive = %v, want %v", s.what, got, s.alive)
		}
	}
	if l.Set("docomo", true, at(13*time.Second)) {
		t.Error("setting the same state reported a change")
	}
}

func TestNextExpiry(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLiveness(3 * time.Second)
	l.Set("a", true, t0)
	l.Set("a", false, t0.Add(time.Second))
	l.Set("a", true, t0.Add(2*time.Second))
	l.Set("b", true, t0)
	if got, want := l.NextExpiry(t0.Add(2*time.Second)), t0.Add(5*time.Second); !got.Equal(want) {
		t.Errorf("NextExpiry = %v, want %v", got, want)
	}
	if got := l.NextExpiry(t0.Add(6 * time.Second)); !got.IsZero() {
		t.Errorf("NextExpiry after the hold-down = %v, want zero", got)
	}
}

func ptr(b bool) *bool { return &b }
