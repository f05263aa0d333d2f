package ecmp

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/bfd"
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

// TestObserveBFD follows one tunnel through what its BFD session reports:
// a peer's AdminDown keeps it in (RFC 5882 §3.2) until BFD is Up again or
// detects a failure; a failure takes it out at once, and only a failure is
// timed as one.
func TestObserveBFD(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLiveness(2 * time.Second)
	ch := func(old, new bfd.State, diag bfd.Diag, remote bfd.State) *bfd.Change {
		return &bfd.Change{Interface: "wg-docomo", Old: old, New: new, Diag: diag, RemoteState: remote}
	}
	const (
		adm, down, ini, up = bfd.StateAdminDown, bfd.StateDown, bfd.StateInit, bfd.StateUp
		none, expired      = bfd.DiagNone, bfd.DiagControlExpired
		nbr, local         = bfd.DiagNeighborDown, bfd.DiagAdminDown
	)
	for _, s := range []struct {
		what      string
		ch        *bfd.Change // nil: only time passes
		now       time.Duration
		alive     bool
		failed    bool
		peerAdmin bool
		held      bool
	}{
		{"peer heard, not yet Up", ch(down, ini, none, down), 0, false, false, false, false},
		{"first Up: in at once", ch(ini, up, none, ini), 0, true, false, false, false},
		{"peer AdminDown: stays in", ch(up, down, nbr, adm), time.Second, true, false, true, false},
		{"peer silent ten minutes: still in", nil, 10 * time.Minute, true, false, true, false},
		{"peer back: Init keeps it", ch(down, ini, none, down), 11 * time.Minute, true, false, true, false},
		{"Up again: no hold-down, nothing failed", ch(ini, up, none, up), 11 * time.Minute, true, false, false, false},
		{"peer AdminDown again", ch(up, down, nbr, adm), 12 * time.Minute, true, false, true, false},
		{"peer back", ch(down, ini, none, down), 13 * time.Minute, true, false, true, false},
		{"then silent in Init: a failure", ch(ini, down, expired, down), 13*time.Minute + time.Second, false, true, false, false},
		{"AdminDown of a dead tunnel keeps it out", ch(ini, down, nbr, adm), 14 * time.Minute, false, false, false, false},
		{"Up after a failure: held", ch(ini, up, none, up), 15 * time.Minute, false, false, false, true},
		{"held down over", nil, 15*time.Minute + 2*time.Second, true, false, false, false},
		{"detection time: out at once", ch(up, down, expired, up), 16 * time.Minute, false, true, false, false},
		{"Up", ch(ini, up, none, up), 17 * time.Minute, false, false, false, true},
		{"peer Down (not AdminDown) in hold-down: out, no failure to time", ch(up, down, nbr, down), 17*time.Minute + time.Second, false, false, false, false},
		{"Up", ch(ini, up, none, up), 18 * time.Minute, false, false, false, true},
		{"our own AdminDown: out", ch(up, adm, local, up), 19 * time.Minute, false, true, false, false},
	} {
		at := t0.Add(s.now)
		failed := false
		if s.ch != nil {
			s.ch.At = at
			failed = l.ObserveBFD("docomo", *s.ch)
		}
		held, _ := l.Held("docomo", at)
		got := []bool{l.Alive("docomo", at), failed, l.PeerAdminDown("docomo"), held}
		want := []bool{s.alive, s.failed, s.peerAdmin, s.held}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: alive, failed, peer admin down, held (-want +got):\n%s", s.what, diff)
		}
	}
}

func ptr(b bool) *bool { return &b }

// TestLivenessCarrier: lost carrier takes a live tunnel out at once; a
// flap shorter than BFD's detection (BFD never went down) brings it back
// after the hold-down; a long one waits for BFD to come Up.
func TestLivenessCarrier(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLiveness(time.Second)
	l.Set("docomo", true, t0)
	if ch, failed := l.ObserveCarrier("docomo", false, t0.Add(time.Second)); !ch || !failed {
		t.Fatalf("carrier lost: changed %v failed %v, want a failure", ch, failed)
	}
	if l.Alive("docomo", t0.Add(time.Second)) || !l.Down("docomo") {
		t.Fatal("alive without carrier")
	}
	if ch, failed := l.ObserveCarrier("docomo", false, t0.Add(2*time.Second)); ch || failed {
		t.Error("the same state again counted as a change")
	}
	// Back within BFD's detection: BFD stayed Up, the hold-down applies.
	back := t0.Add(1100 * time.Millisecond)
	if ch, failed := l.ObserveCarrier("docomo", true, back); !ch || failed {
		t.Fatalf("carrier back: changed %v failed %v", ch, failed)
	}
	if l.Alive("docomo", back.Add(500*time.Millisecond)) {
		t.Error("back before the hold-down ended")
	}
	if held, _ := l.Held("docomo", back.Add(500*time.Millisecond)); !held {
		t.Error("not reported held after carrier came back")
	}
	if !l.Alive("docomo", back.Add(time.Second)) {
		t.Error("not back after the hold-down")
	}
	// A long loss: BFD goes down meanwhile; carrier back is not enough.
	l.ObserveCarrier("docomo", false, t0.Add(10*time.Second))
	l.Set("docomo", false, t0.Add(10300*time.Millisecond))
	l.ObserveCarrier("docomo", true, t0.Add(20*time.Second))
	if l.Alive("docomo", t0.Add(30*time.Second)) {
		t.Error("alive on carrier alone while BFD is down")
	}
	l.Set("docomo", true, t0.Add(31*time.Second))
	if !l.Alive("docomo", t0.Add(32*time.Second)) {
		t.Error("not back after BFD Up and the hold-down")
	}
	if ch, _ := l.ObserveCarrier("unknown", false, t0); ch {
		t.Error("a tunnel never seen changed")
	}
}
