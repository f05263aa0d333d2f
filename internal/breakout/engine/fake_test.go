package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/fib/fibtest"
)

// fakeKernel keeps routes in fibtest.Fake and rules in a set.
type fakeKernel struct {
	*fibtest.Fake
	mu     sync.Mutex
	rules  map[rule]bool
	closed bool
}

var _ kernel = (*fakeKernel)(nil)

func newFakeKernel() *fakeKernel { return &fakeKernel{Fake: fibtest.New(), rules: map[rule]bool{}} }

func (k *fakeKernel) SweepTable(table uint32) error {
	rs, _ := k.Dump(table, proto)
	return k.DeleteRoutes(table, proto, rs)
}

func (k *fakeKernel) Rules(priority int) ([]rule, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []rule
	for r := range k.rules {
		if r.Priority == priority {
			out = append(out, r)
		}
	}
	return out, nil
}

func (k *fakeKernel) AddRule(r rule) error { k.mu.Lock(); k.rules[r] = true; k.mu.Unlock(); return nil }
func (k *fakeKernel) DelRule(r rule) error {
	k.mu.Lock()
	delete(k.rules, r)
	k.mu.Unlock()
	return nil
}

func (k *fakeKernel) ruleSet() []rule {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []rule
	for r := range k.rules {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b rule) int { return a.Family - b.Family })
	return out
}

func (k *fakeKernel) LinkIndex(name string) (int, error) {
	if name == "gw0" {
		return 7, nil
	}
	return 0, errors.New("no such device")
}

func (k *fakeKernel) Close() error { k.closed = true; return nil }

func (k *fakeKernel) prefixes(table uint32) []netip.Prefix {
	rs, _ := k.Dump(table, proto)
	return routePrefixes(rs)
}

// fakeProber answers while alive is set.
type fakeProber struct{ alive atomic.Bool }

func (p *fakeProber) Probe(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	if p.alive.Load() {
		return time.Millisecond, nil
	}
	return 0, errors.New("timeout")
}

func (p *fakeProber) Close() error { return nil }

func (p *fakeProber) open(netip.Addr, string) (prober, error) { return p, nil }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// noLeaks fails the test if goroutines started during it outlive it; call
// it before anything that registers a cleanup.
func noLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines leaked:\n%s", runtime.NumGoroutine()-before, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
