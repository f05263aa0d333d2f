package bfd

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wire is an in-memory link: what one session writes, the other receives,
// through the same codec and validation as the network path.
type wire struct {
	t      *testing.T
	mu     sync.Mutex
	to     *Session
	cut    atomic.Bool
	finals atomic.Int64
}

func (w *wire) Write(b []byte) (int, error) {
	if w.cut.Load() {
		return len(b), nil // lost on the way, as on a dead tunnel
	}
	p, err := Unmarshal(b)
	if err != nil {
		w.t.Errorf("session sent an invalid packet: %v", err)
		return len(b), nil
	}
	if p.Final {
		w.finals.Add(1)
	}
	w.mu.Lock()
	to := w.to
	w.mu.Unlock()
	to.deliver(rxPacket{p: p, at: time.Now()})
	return len(b), nil
}

func (w *wire) Close() error { return nil }

func startPair(t *testing.T, rec *recorder) (a, b *Session, ab, ba *wire) {
	ab, ba = &wire{t: t}, &wire{t: t}
	cfg := func(local, peer string) SessionConfig {
		c, err := SessionConfig{Interface: "wg-test", Local: netip.MustParseAddr(local), Peer: netip.MustParseAddr(peer)}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a = newSession(cfg("198.18.1.0", "198.18.1.1"), 1111, ab, testLogger(t), rec.OnChange)
	b = newSession(cfg("198.18.1.1", "198.18.1.0"), 2222, ba, testLogger(t), rec.OnChange)
	ab.to, ba.to = b, a
	go a.run()
	go b.run()
	return a, b, ab, ba
}

// TestSessionPair runs two sessions over an in-memory link: bring-up, the
// poll sequence to the fast rate, failure detection, recovery and
// AdminDown, without sockets or root.
func TestSessionPair(t *testing.T) {
	base := goroutines()
	rec := newRecorder()
	a, b, ab, ba := startPair(t, rec)
	ka, kb := a.Key(), b.Key()

	start := time.Now()
	rec.wait(t, ka, StateUp, 5*time.Second)
	rec.wait(t, kb, StateUp, 5*time.Second)
	t.Logf("both Up after %v", time.Since(start).Round(time.Millisecond))

	waitNegotiated(t, a)
	waitNegotiated(t, b)
	if ab.finals.Load() == 0 || ba.finals.Load() == 0 {
		t.Errorf("no Final sent (a→b %d, b→a %d): poll sequences not answered", ab.finals.Load(), ba.finals.Load())
	}

	// Both directions lost: each side must notice by itself.
	ab.cut.Store(true)
	ba.cut.Store(true)
	cut := time.Now()
	ca := rec.wait(t, ka, StateDown, 2*time.Second)
	cb := rec.wait(t, kb, StateDown, 2*time.Second)
	for _, c := range []Change{ca, cb} {
		took := c.At.Sub(cut)
		t.Logf("%s Down after %v (configured 100ms × 3 = 300ms), diag %v", c.Local, took.Round(time.Millisecond), c.Diag)
		if c.Diag != DiagControlExpired || took > time.Second {
			t.Errorf("%s: Down after %v with diag %v, want < 1s and %v", c.Local, took, c.Diag, DiagControlExpired)
		}
	}
	if st := a.Status(); st.RemoteDiscr != 0 {
		t.Errorf("after expiry RemoteDiscr = %d, want 0 (§6.8.1)", st.RemoteDiscr)
	}

	ab.cut.Store(false)
	ba.cut.Store(false)
	rec.wait(t, ka, StateUp, 5*time.Second)
	rec.wait(t, kb, StateUp, 5*time.Second)

	a.setAdmin(true)
	c := rec.wait(t, kb, StateDown, 2*time.Second)
	if c.Diag != DiagNeighborDown || c.RemoteState != StateAdminDown {
		t.Errorf("peer of AdminDown: diag %v remote %v, want %v and %v", c.Diag, c.RemoteState, DiagNeighborDown, StateAdminDown)
	}
	if st := a.Status(); st.State != StateAdminDown || st.Diag != DiagAdminDown {
		t.Errorf("a: %v/%v, want AdminDown/%v", st.State, st.Diag, DiagAdminDown)
	}
	a.setAdmin(false)
	rec.wait(t, ka, StateUp, 5*time.Second)
	rec.wait(t, kb, StateUp, 5*time.Second)

	rec.drain(kb)
	a.stop()
	c = rec.wait(t, kb, StateDown, 2*time.Second)
	if c.Diag != DiagNeighborDown {
		t.Errorf("peer of a stopped session: diag %v, want %v", c.Diag, DiagNeighborDown)
	}
	b.stop()
	checkGoroutines(t, base)
}

// waitNegotiated waits until the session runs at the configured fast rate
// with its poll sequence finished.
func waitNegotiated(t *testing.T, s *Session) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		st := s.Status()
		if !st.PollActive && st.TxInterval == 100*time.Millisecond && st.DetectTime == 300*time.Millisecond {
			t.Logf("%s: tx %v rx %v detect %v remote %v", st.Local, st.TxInterval, st.RxInterval, st.DetectTime, st.RemoteState)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not negotiated: %+v", st.Local, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
