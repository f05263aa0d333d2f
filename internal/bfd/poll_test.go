package bfd

import (
	"fmt"
	"testing"
	"time"
)

const seeds = 20

// TestPollWithSlowStartPeer is issue 16 in virtual time: FRR's bfdd
// advertises 1 s intervals until Up, then polls to 100 ms while our own
// Poll is in flight. Whichever side comes Up first, our periodic packets
// must follow the 100 ms it asks for as soon as its Poll arrives, so that
// its 300 ms detection time, which starts with our Final, never runs out.
func TestPollWithSlowStartPeer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		frrFirst  bool
		headStart time.Duration
	}{
		// FRR's Init reaches us in Down: we go Up on it, with the slow
		// rate it advertised, then its Poll and ours cross.
		{"FRR first, we go Up first", true, 300 * time.Millisecond},
		// Our Init reaches FRR: it goes Up and polls, and we go Up on
		// its Poll, already at its fast rate.
		{"we start first, FRR goes Up first", false, 300 * time.Millisecond},
		{"same instant", false, 0},
	} {
		for seed := range uint64(seeds) {
			t.Run(fmt.Sprintf("%s/seed %d", tc.name, seed), func(t *testing.T) {
				n := newSimNet(t)
				var s *Session
				var f *frrModel
				if tc.frrFirst {
					f = n.addFRR(1, seed)
					n.run(n.at(tc.headStart))
					s = n.addSession(0, seed)
				} else {
					s = n.addSession(0, seed)
					n.run(n.at(tc.headStart))
					f = n.addFRR(1, seed)
				}
				end := n.at(30 * time.Second)
				n.run(end)
				checkStable(t, n, s, f)
				// From FRR's first Up packet (its Poll to 100 ms) on, our
				// periodic packets go at 100 ms less up to 25 %.
				n.checkGaps(t, 0, n.arrival(1, func(sp simPacket) bool { return sp.p.State == StateUp }), end, 75*time.Millisecond, 100*time.Millisecond)
			})
		}
	}
}

// TestPeerTimersChangeWhileUp changes the peer's intervals while the
// session is Up, as an edit of FRR's profile does: to 500 ms, which must
// slow us down at once (never faster than it asked), then back to 100 ms,
// which must speed us up at once (FRR times us by it once its Poll ends).
func TestPeerTimersChangeWhileUp(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			// We start first, so that FRR goes Up first and polls us
			// straight to 100 ms: a clean start, whatever the code.
			n := newSimNet(t)
			s := n.addSession(0, seed)
			n.run(n.at(300 * time.Millisecond))
			f := n.addFRR(1, seed)
			n.run(n.at(5 * time.Second))
			for _, step := range []struct {
				profile time.Duration
				until   time.Duration
			}{
				{500 * time.Millisecond, 12 * time.Second},
				{100 * time.Millisecond, 20 * time.Second},
				{300 * time.Millisecond, 25 * time.Second},
				{100 * time.Millisecond, 30 * time.Second},
			} {
				from := n.now
				f.setProfile(step.profile)
				end := n.at(step.until)
				n.run(end)
				us := usec(step.profile)
				changed := n.arrival(1, func(sp simPacket) bool { return sp.p.RequiredMinRx == us && !sp.sent.Before(from) })
				n.checkGaps(t, 0, changed, end, step.profile*3/4, step.profile)
				if st := s.Status(); st.TxInterval != step.profile || st.DetectTime != 3*step.profile {
					t.Errorf("profile %v: our tx %v, detect %v; want %v and %v", step.profile, st.TxInterval, st.DetectTime, step.profile, 3*step.profile)
				}
			}
			checkStable(t, n, s, f)
		})
	}
}

// TestSimultaneousPolls brings two of our sessions Up at the same instant,
// so that their Polls cross and each answers the other's with a Final off
// its schedule; both must end their Poll and keep the 100 ms rate.
func TestSimultaneousPolls(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n := newSimNet(t)
			a, b := n.addSession(0, seed), n.addSession(1, seed)
			end := n.at(30 * time.Second)
			n.run(end)
			for i, s := range []*Session{a, b} {
				st := s.Status()
				if st.State != StateUp || st.PollActive || len(n.upChanges(i)) != 0 {
					t.Errorf("end %d: %v, poll active %v, changes after Up:%s", i, st.State, st.PollActive, describe(n.upChanges(i)))
				}
				finals := 0
				for _, sp := range n.sent[i] {
					if sp.p.Final {
						finals++
					}
				}
				if finals == 0 {
					t.Errorf("end %d sent no Final", i)
				}
				if up := n.firstUp(0); !up.IsZero() {
					n.checkGaps(t, i, later(up, n.firstUp(1)), end, 75*time.Millisecond, 100*time.Millisecond)
				}
			}
		})
	}
}

// checkStable asserts both ends came Up once, stayed Up, and finished
// their Polls.
func checkStable(t *testing.T, n *simNet, s *Session, f *frrModel) {
	t.Helper()
	st := s.Status()
	if n.firstUp(0).IsZero() || n.firstUp(1).IsZero() {
		t.Fatalf("never Up: ours%s, FRR's%s", describe(n.changes[0]), describe(n.changes[1]))
	}
	if c := n.upChanges(0); len(c) != 0 || st.State != StateUp {
		t.Errorf("our session after its first Up:%s (now %v)", describe(c), st.State)
	}
	if c := n.upChanges(1); len(c) != 0 || f.state != StateUp {
		t.Errorf("FRR's session after its first Up:%s (now %v)", describe(c), f.state)
	}
	if st.PollActive || f.poll {
		t.Errorf("Poll still active: ours %v, FRR's %v", st.PollActive, f.poll)
	}
}

// arrival is when the first packet from end i that ok accepts reached the
// other end, or the link's now if none did.
func (n *simNet) arrival(i int, ok func(simPacket) bool) time.Time {
	for _, sp := range n.sent[i] {
		if ok(sp) {
			return sp.at
		}
	}
	n.t.Errorf("no packet from end %d as expected", i)
	return n.now
}
