package wg

import (
	"testing"
	"time"
)

// TestKickReadsALiveSessionOnlyNearItsExpiry: Kick runs four times a
// second; a session seen live is not read again until it could expire,
// unless liveness calls it suspect.
func TestKickReadsALiveSessionOnlyNearItsExpiry(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	hs := t0.Add(-time.Second)
	reads := 0
	m := &Manager{kicks: map[string]*kickState{}, readHandshake: func(string) (time.Time, bool) {
		reads++
		return hs, true
	}}
	tun := Tunnel{Name: "wg-docomo"}
	tun.Peer.Endpoint = "198.51.100.1:51820"
	kick := func(at time.Time, suspect bool) {
		t.Helper()
		if m.kickOne(tun, at, suspect) {
			t.Fatalf("a live session kicked at %s", at.Sub(t0))
		}
	}
	kick(t0, false)
	if reads != 1 {
		t.Fatalf("first kick: %d reads, want 1", reads)
	}
	for at := t0; at.Before(t0.Add(2 * time.Minute)); at = at.Add(250 * time.Millisecond) {
		kick(at, false)
	}
	if reads != 1 {
		t.Fatalf("two minutes of kicks on a session handshaken at -1s: %d reads, want still 1", reads)
	}
	kick(t0.Add(2*time.Second), true) // within suspectGrace of the handshake: read, not kicked
	if reads != 2 {
		t.Fatalf("a suspect tunnel: %d reads, want a read (2)", reads)
	}
	near := hs.Add(sessionTTL - kickReread)
	kick(near, false)
	if reads != 3 {
		t.Fatalf("%s before the session expires: %d reads, want a read (3)", kickReread, reads)
	}
	// The peer re-created or re-configured: its state is dropped and the
	// next kick reads again.
	delete(m.kicks, tun.Name)
	kick(t0.Add(time.Second), false)
	if reads != 4 {
		t.Fatalf("after the kick state was dropped: %d reads, want 4", reads)
	}
}
