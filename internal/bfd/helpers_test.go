package bfd

import (
	"log/slog"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// recorder collects Changes per session the way a reconciler should: a
// non-blocking send, never a wait inside the callback.
type recorder struct {
	mu sync.Mutex
	ch map[Key]chan Change
}

func newRecorder() *recorder { return &recorder{ch: map[Key]chan Change{}} }

func (r *recorder) chanFor(k Key) chan Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.ch[k]
	if !ok {
		c = make(chan Change, 256)
		r.ch[k] = c
	}
	return c
}

func (r *recorder) OnChange(c Change) {
	select {
	case r.chanFor(Key{Interface: c.Interface, Peer: c.Peer}) <- c:
	default:
	}
}

// wait returns the first change of k into state want, failing the test
// after timeout.
func (r *recorder) wait(t *testing.T, k Key, want State, timeout time.Duration) Change {
	t.Helper()
	deadline := time.After(timeout)
	c := r.chanFor(k)
	for {
		select {
		case ch := <-c:
			if ch.New == want {
				return ch
			}
		case <-deadline:
			t.Fatalf("session %s: no change to %v within %v", k, want, timeout)
		}
	}
}

// drain forgets changes seen so far, so the next wait sees only new ones.
func (r *recorder) drain(k Key) {
	c := r.chanFor(k)
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("BFD_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// checkGoroutines fails if goroutines started after base are still running.
func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func goroutines() int { return runtime.NumGoroutine() }
