package bfd

import (
	"fmt"
	"testing"
	"time"
)

// retimeSim drives a session's new timers the way its goroutine does.
func retimeSim(s *Session, c SessionConfig, now time.Time) {
	c, _ = c.withDefaults()
	s.settle(s.retimeTo(c, now), now)
}

// TestOwnTimersChangeWhileUp is a reload of both daemons' [liveness]
// timers in virtual time: 100 ms × 3 to 300 ms × 5 and back, one end
// first, the other a moment later. Neither session may go down; each Poll
// must end; afterwards each end sends at the new interval and times the
// other by the new multiplier.
func TestOwnTimersChangeWhileUp(t *testing.T) {
	slow := SessionConfig{DesiredMinTx: 300 * time.Millisecond, RequiredMinRx: 300 * time.Millisecond, DetectMult: 5}
	fast := SessionConfig{DesiredMinTx: 100 * time.Millisecond, RequiredMinRx: 100 * time.Millisecond, DetectMult: 3}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n := newSimNet(t)
			a, b := n.addSession(0, seed), n.addSession(1, seed)
			n.run(n.at(5 * time.Second))
			for _, step := range []struct {
				cfg   SessionConfig
				at    time.Duration
				until time.Duration
			}{{slow, 5 * time.Second, 15 * time.Second}, {fast, 15 * time.Second, 25 * time.Second}} {
				c := step.cfg
				c.Interface, c.Local, c.Peer = a.cfg.Interface, a.cfg.Local, a.cfg.Peer
				retimeSim(a, c, n.now)
				n.run(n.at(step.at + 250*time.Millisecond))
				c.Local, c.Peer = b.cfg.Local, b.cfg.Peer
				retimeSim(b, c, n.now)
				end := n.at(step.until)
				n.run(end)
				for i, s := range []*Session{a, b} {
					st := s.Status()
					if st.State != StateUp || st.PollActive || len(n.upChanges(i)) != 0 {
						t.Fatalf("end %d after new timers %v × %d: %v, poll active %v, changes after Up:%s",
							i, c.DesiredMinTx, c.DetectMult, st.State, st.PollActive, describe(n.upChanges(i)))
					}
					if st.TxInterval != c.DesiredMinTx || st.DetectTime != time.Duration(c.DetectMult)*c.DesiredMinTx {
						t.Errorf("end %d: tx %v, detect %v; want %v and %v", i, st.TxInterval, st.DetectTime,
							c.DesiredMinTx, time.Duration(c.DetectMult)*c.DesiredMinTx)
					}
				}
				n.checkGaps(t, 0, n.at(step.until-5*time.Second), end, c.DesiredMinTx*3/4, c.DesiredMinTx)
			}
		})
	}
}

// TestRetimeAgainstFRR: our timers slowed while Up against FRR's model,
// which keeps its 100 ms profile: we must go on sending at 100 ms at most
// (never slower than the peer may time us by until its Final) — here the
// agreed interval is the slower of our Desired Min TX and its Required
// Min RX, so 300 ms once our Poll ends, and FRR stays Up throughout.
func TestRetimeAgainstFRR(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n := newSimNet(t)
			s := n.addSession(0, seed)
			n.run(n.at(300 * time.Millisecond))
			f := n.addFRR(1, seed)
			n.run(n.at(5 * time.Second))
			c := s.cfg
			c.DesiredMinTx, c.RequiredMinRx, c.DetectMult = 300*time.Millisecond, 300*time.Millisecond, 5
			retimeSim(s, c, n.now)
			n.run(n.at(15 * time.Second))
			checkStable(t, n, s, f)
			if st := s.Status(); st.TxInterval != 300*time.Millisecond {
				t.Errorf("tx %v after our Poll to 300 ms, want 300ms", st.TxInterval)
			}
		})
	}
}
