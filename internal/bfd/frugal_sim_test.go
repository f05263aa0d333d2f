package bfd

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// simStream is user traffic from one end: a packet every every from start
// to end (one packet when they are equal).
type simStream struct {
	from       int
	start, end time.Time
	every      time.Duration
}

// count is how many of the stream's packets were sent in [start, hi].
func (st simStream) count(hi time.Time) uint64 {
	hi = earlier(hi, st.end)
	if hi.Before(st.start) {
		return 0
	}
	if st.every == 0 {
		return 1
	}
	return uint64(hi.Sub(st.start)/st.every) + 1
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// cut reports whether what end from sends at t is lost.
func (n *simNet) cut(from int, t time.Time) bool {
	c, h := n.cutFrom[from], n.healAt[from]
	return !c.IsZero() && !t.Before(c) && (h.IsZero() || t.Before(h))
}

// blackhole loses everything either end sends from now on, as a dead
// carrier does.
func (n *simNet) blackhole() {
	n.cutFrom = [2]time.Time{n.now, n.now}
}

// stream adds user traffic from end from, starting after `after`.
func (n *simNet) stream(from int, after, length, every time.Duration) time.Time {
	start := n.now.Add(after)
	n.streams = append(n.streams, simStream{from: from, start: start, end: start.Add(length), every: every})
	return start
}

// simTraffic is end i's tunnel counters: the control packets and user
// traffic it sent, and what of the other end's reached it by now.
type simTraffic struct {
	n *simNet
	i int
}

func (c simTraffic) Read() (Traffic, error) {
	n := c.n
	var t Traffic
	for _, sp := range n.sent[c.i] {
		if !sp.sent.After(n.now) {
			t.TxPackets++
		}
	}
	for _, sp := range n.sent[1-c.i] {
		if !sp.lost && !sp.at.After(n.now) {
			t.RxPackets++
		}
	}
	for _, st := range n.streams {
		switch {
		case st.from == c.i:
			t.TxPackets += st.count(n.now)
		case n.cutFrom[st.from].IsZero():
			t.RxPackets += st.count(n.now.Add(-n.delay))
		default:
			t.RxPackets += st.count(earlier(n.now.Add(-n.delay), n.cutFrom[st.from].Add(-1)))
		}
	}
	return t, nil
}

func (c simTraffic) Close() error { return nil }

// simControl is end i's BFD socket: the control packets read from it and
// those the tunnel counted that still wait in it.
type simControl struct {
	n *simNet
	i int
}

func (c simControl) Taken() uint64 {
	var k uint64
	for _, sp := range c.n.sent[1-c.i] {
		if !sp.lost && !sp.read.After(c.n.now) {
			k++
		}
	}
	return k
}

func (c simControl) Pending() bool {
	for _, sp := range c.n.sent[1-c.i] {
		if !sp.lost && !sp.at.After(c.n.now) && sp.read.After(c.n.now) {
			return true
		}
	}
	return false
}

// addFrugal starts one of our sessions as end i, like addSession, with
// the frugal mode offered or not.
func (n *simNet) addFrugal(i int, seed uint64, frugal bool) *Session {
	return n.addFrugalIdle(i, seed, frugal, 0)
}

// addFrugalIdle is addFrugal with an idle interval of its own (zero: the
// default).
func (n *simNet) addFrugalIdle(i int, seed uint64, frugal bool, idle time.Duration) *Session {
	cfg, err := SessionConfig{Interface: "wg-sim", Frugal: frugal, IdleInterval: idle,
		Local: netip.AddrFrom4([4]byte{198, 18, 9, byte(i)}), Peer: netip.AddrFrom4([4]byte{198, 18, 9, byte(1 - i)}),
	}.withDefaults()
	if err != nil {
		n.t.Fatal(err)
	}
	discr := uint32(1000 + i)
	if frugal {
		hi := uint16(0x1000 + i)
		discr = uint32(hi)<<16 | uint32(frugalTag(hi))
	}
	s := newSession(cfg, discr, simConn{n, i}, testLogger(n.t), func(c Change) { n.changes[i] = append(n.changes[i], c) })
	if frugal {
		s.src, s.ctl = simTraffic{n, i}, simControl{n, i}
	}
	s.rnd = rand.New(rand.NewPCG(seed, uint64(i)))
	s.st.nextTx = n.now
	n.ends[i] = simSession{s}
	return s
}

// frugalPair brings two frugal sessions Up and lets them settle idle.
func frugalPair(t *testing.T, seed uint64) (*simNet, [2]*Session) {
	return frugalPairIdle(t, seed, 0)
}

// frugalPairIdle is frugalPair at an idle interval of its own.
func frugalPairIdle(t *testing.T, seed uint64, idle time.Duration) (*simNet, [2]*Session) {
	n := newSimNet(t)
	n.delay = time.Duration(1+seed%20) * time.Millisecond // RTT 2 to 40 ms
	ss := [2]*Session{n.addFrugalIdle(0, seed, true, idle), n.addFrugalIdle(1, seed, true, idle)}
	n.run(n.at(10*time.Second + 2*idle))
	for i, s := range ss {
		if st := s.Status(); st.State != StateUp || st.Liveness != "frugal idle" || st.PollActive {
			t.Fatalf("end %d after 10s: %v, %s, poll %v; changes:%s", i, st.State, st.Liveness, st.PollActive, describe(n.changes[i]))
		}
	}
	return n, ss
}

// downAfter is how long after from end i went Down, failing if it did not.
func (n *simNet) downAfter(t *testing.T, i int, from time.Time) time.Duration {
	t.Helper()
	for _, c := range n.changes[i] {
		if c.New == StateDown && !c.At.Before(from) {
			return c.At.Sub(from)
		}
	}
	t.Fatalf("end %d never went Down after %v:%s", i, n.since(from), describe(n.changes[i]))
	return 0
}

// rate is end i's periodic packets per second in [from, until].
func (n *simNet) rate(i int, from, until time.Time) float64 {
	k := 0
	for _, sp := range n.sent[i] {
		if !sp.p.Final && sp.sent.After(from) && !sp.sent.After(until) {
			k++
		}
	}
	return float64(k) / until.Sub(from).Seconds()
}

// TestFrugalIdle: two frugal ends, idle, send about once in two seconds
// each (2 s less up to 25 % jitter: 0.5 to 0.67 a second), time each
// other by §6.8.4 in 6 s (the silence watch probes long before), and never
// probe: the packets of §6.8.7's jitter are never late enough.
func TestFrugalIdle(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n, ss := frugalPair(t, seed)
			from := n.now
			n.run(n.at(70 * time.Second))
			for i, s := range ss {
				st := s.Status()
				if r := n.rate(i, from, n.now); r < 0.5 || r > 0.67 {
					t.Errorf("end %d idle: %.2f packets/s, want 0.5 to 0.67", i, r)
				}
				if st.TxInterval != DefaultIdleInterval || st.DetectTime != 3*DefaultIdleInterval || st.Probes != 0 {
					t.Errorf("end %d: tx %v, detect %v, probes %d; want 2s, 6s, 0", i, st.TxInterval, st.DetectTime, st.Probes)
				}
				if c := n.upChanges(i); len(c) != 0 {
					t.Errorf("end %d left Up:%s", i, describe(c))
				}
			}
		})
	}
}

// TestFrugalNeedsBothEnds: a frugal end with a peer that does not offer
// the mode (one of ours without it, FRR's model) is plain asynchronous
// mode at the configured 100 ms, both ways.
func TestFrugalNeedsBothEnds(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("ours without/seed %d", seed), func(t *testing.T) {
			n := newSimNet(t)
			f, plain := n.addFrugal(0, seed, true), n.addFrugal(1, seed, false)
			n.run(n.at(5 * time.Second))
			from := n.now
			n.stream(0, 0, 10*time.Second, 10*time.Millisecond) // traffic changes nothing either
			end := n.at(20 * time.Second)
			n.run(end)
			for i, s := range []*Session{f, plain} {
				st := s.Status()
				if st.State != StateUp || st.TxInterval != 100*time.Millisecond || st.Probes != 0 || len(n.upChanges(i)) != 0 {
					t.Errorf("end %d: %v, tx %v, probes %d, changes:%s", i, st.State, st.TxInterval, st.Probes, describe(n.upChanges(i)))
				}
				n.checkGaps(t, i, from, end, 75*time.Millisecond, 100*time.Millisecond)
			}
			if got := f.Status().Liveness; got != "fast (peer not frugal)" {
				t.Errorf("liveness %q", got)
			}
		})
		t.Run(fmt.Sprintf("FRR/seed %d", seed), func(t *testing.T) {
			n := newSimNet(t)
			s := n.addFrugal(0, seed, true)
			n.run(n.at(300 * time.Millisecond))
			fr := n.addFRR(1, seed)
			end := n.at(20 * time.Second)
			n.run(end)
			checkStable(t, n, s, fr)
			n.checkGaps(t, 0, n.at(5*time.Second), end, 75*time.Millisecond, 100*time.Millisecond)
		})
	}
}

// TestFrugalBusyBlackhole: traffic both ways keeps the idle rate (what
// comes back is proof of life); a blackhole takes both ends Down within
// the configured 300 ms.
func TestFrugalBusyBlackhole(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n, ss := frugalPair(t, seed)
			every := time.Duration(2+seed%9) * time.Millisecond
			n.stream(0, 0, time.Minute, every)
			n.stream(1, time.Millisecond, time.Minute, every)
			from := n.now
			n.run(n.at(20 * time.Second))
			for i, s := range ss {
				if st := s.Status(); st.Probes != 0 || st.Liveness != "frugal idle" {
					t.Errorf("end %d busy and answered: %s, %d probes", i, st.Liveness, st.Probes)
				}
				if r := n.rate(i, from, n.now); r > 1.41 {
					t.Errorf("end %d busy and answered: %.2f packets/s", i, r)
				}
			}
			jump := time.Duration(rand.New(rand.NewPCG(seed, 7)).Int64N(int64(time.Second)))
			n.run(n.now.Add(jump))
			cut := n.now
			n.blackhole()
			n.run(n.at(25 * time.Second))
			for i := range ss {
				if d := n.downAfter(t, i, cut); d > 300*time.Millisecond {
					t.Errorf("end %d Down %v after the blackhole, want ≤ 300ms", i, d)
				}
			}
		})
	}
}

// TestFrugalIdleBlackhole: an idle tunnel is Down within 3 s.
func TestFrugalIdleBlackhole(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n, _ := frugalPair(t, seed)
			n.run(n.now.Add(time.Duration(rand.New(rand.NewPCG(seed, 7)).Int64N(int64(time.Second)))))
			cut := n.now
			n.blackhole()
			n.run(n.at(20 * time.Second))
			for i := range 2 {
				// The silence watch: nothing for 2.25 s since the
				// last packet heard, then a probe's 220 ms.
				if d := n.downAfter(t, i, cut); d > 2500*time.Millisecond || d < 200*time.Millisecond {
					t.Errorf("end %d Down %v after the blackhole, want 200ms to 2.5s", i, d)
				}
			}
		})
	}
}

// TestFrugalNewFlowOnDeadTunnel: the tunnel dies while idle, and before
// the idle detection a flow starts on it: one packet (a SYN) or a stream.
// The sender is Down within 1 s of the flow's first packet.
func TestFrugalNewFlowOnDeadTunnel(t *testing.T) {
	for _, stream := range []bool{false, true} {
		for seed := range uint64(seeds) {
			t.Run(fmt.Sprintf("stream %v/seed %d", stream, seed), func(t *testing.T) {
				// A long idle interval keeps the silence watch (11.25 s)
				// out of it: the flow's own packets must do it.
				n, _ := frugalPairIdle(t, seed, 10*time.Second)
				n.blackhole()
				r := rand.New(rand.NewPCG(seed, 8))
				after := time.Duration(r.Int64N(int64(1500 * time.Millisecond)))
				length, every := time.Duration(0), time.Duration(0)
				if stream {
					length, every = 10*time.Second, 20*time.Millisecond
				}
				first := n.stream(0, after, length, every)
				n.run(n.now.Add(20 * time.Second))
				if d := n.downAfter(t, 0, first); d > time.Second {
					t.Errorf("Down %v after the flow's first packet, want ≤ 1s", d)
				}
			})
		}
	}
}

// TestFrugalNewFlowBehindUnreadControl: the peer's idle control packet
// waits 60 ms in our socket after the tunnel counted it (a loaded machine
// whose reading goroutine is not scheduled: three of our 20 ms readings),
// the tunnel dies just after it came, and a lone packet of a new flow
// leaves while it waits or within the reply window after. The control
// packet must pass neither for user traffic (the new packet then taken
// for the reply to it) nor, read after the new packet left, for the
// answer to it: the sender is Down within 1 s of that packet, not when
// the silence watch finds the tunnel (11.25 s at this idle interval).
func TestFrugalNewFlowBehindUnreadControl(t *testing.T) {
	for _, tc := range []struct {
		name      string
		from, len time.Duration // the first packet this long after the control packet came
	}{
		{"while it waits", 5 * time.Millisecond, 50 * time.Millisecond},
		{"after it was read", 60 * time.Millisecond, 150 * time.Millisecond},
	} {
		for seed := range uint64(seeds) {
			t.Run(fmt.Sprintf("%s/seed %d", tc.name, seed), func(t *testing.T) {
				n, _ := frugalPairIdle(t, seed, 10*time.Second)
				n.sockWait = 60 * time.Millisecond
				// The peer's next control packet, counted by our tunnel at
				// at; steps shorter than the link's delay (1 ms or more)
				// see it sent and not yet counted.
				var at time.Time
				for at.IsZero() {
					n.run(n.now.Add(200 * time.Microsecond))
					for _, sp := range n.flight {
						if sp.from == 1 && sp.at.After(n.now) {
							at = sp.at
							break
						}
					}
				}
				n.run(at)
				n.blackhole()
				r := rand.New(rand.NewPCG(seed, 9))
				first := n.stream(0, tc.from+time.Duration(r.Int64N(int64(tc.len))), 0, 0)
				n.run(n.now.Add(20 * time.Second))
				if d := n.downAfter(t, 0, first); d > time.Second {
					t.Errorf("Down %v after the flow's first packet, want ≤ 1s", d)
				}
			})
		}
	}
}

// TestFrugalFastAndBack: traffic one way only (nothing answers it but
// the peer's BFD) makes the sender probe and both ends go fast, 100 ms
// each way, without leaving Up; when it stops, both poll back to the idle
// rate, each rise waiting for its Final (the peer never times out), and
// no Poll is left open.
func TestFrugalFastAndBack(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n, ss := frugalPair(t, seed)
			start := n.stream(0, 0, 10*time.Second, 5*time.Millisecond)
			n.run(start.Add(2 * time.Second))
			for i, s := range ss {
				st := s.Status()
				if st.Liveness != "frugal busy" || st.TxInterval != 100*time.Millisecond || st.DetectTime != 300*time.Millisecond {
					t.Errorf("end %d during one-way traffic: %s, tx %v, detect %v", i, st.Liveness, st.TxInterval, st.DetectTime)
				}
				n.checkGaps(t, i, start.Add(500*time.Millisecond), n.now, 75*time.Millisecond, 100*time.Millisecond)
			}
			if ss[0].Status().Probes == 0 {
				t.Errorf("the sender never probed")
			}
			n.run(start.Add(20 * time.Second))
			for i, s := range ss {
				st := s.Status()
				if st.Liveness != "frugal idle" || st.TxInterval != DefaultIdleInterval || st.PollActive || st.State != StateUp {
					t.Errorf("end %d after the traffic: %s, tx %v, poll %v, %v", i, st.Liveness, st.TxInterval, st.PollActive, st.State)
				}
				if c := n.upChanges(i); len(c) != 0 {
					t.Errorf("end %d left Up:%s", i, describe(c))
				}
				if r := n.rate(i, start.Add(14*time.Second), n.now); r > 1.41 {
					t.Errorf("end %d back idle: %.2f packets/s", i, r)
				}
			}
			if checkRises(t, n) < 2 {
				t.Errorf("fewer than two rises of the interval to check")
			}
		})
	}
}

// checkRises holds both ends to §6.8.3: once a Poll advertises a larger
// Desired Min TX, periodic packets keep the old interval until a Final
// from the peer has arrived.
func checkRises(t *testing.T, n *simNet) (rises int) {
	t.Helper()
	for i := range 2 {
		var prev *simPacket
		var riseAt time.Time
		var old time.Duration
		for j := range n.sent[i] {
			sp := &n.sent[i][j]
			if sp.p.Final {
				continue
			}
			if prev != nil && !riseAt.IsZero() {
				if n.finalBetween(1-i, riseAt, sp.sent) {
					riseAt = time.Time{}
				} else if gap := sp.sent.Sub(prev.sent); gap > old {
					t.Errorf("end %d: packet at %v came %v after the one before, slower than %v before its rise was answered",
						i, n.since(sp.sent), gap, old)
				}
			}
			if prev != nil && riseAt.IsZero() && sp.p.Poll && prev.p.State == StateUp && sp.p.State == StateUp &&
				sp.p.DesiredMinTx > prev.p.DesiredMinTx {
				riseAt, old = sp.sent, dur(prev.p.DesiredMinTx)
				rises++
			}
			prev = sp
		}
	}
	return rises
}

// finalBetween reports whether a Final from end from arrived in (a, b].
func (n *simNet) finalBetween(from int, a, b time.Time) bool {
	for _, sp := range n.sent[from] {
		if sp.p.Final && !sp.lost && sp.at.After(a) && !sp.at.After(b) {
			return true
		}
	}
	return false
}

// TestFrugalProbeAcrossRTT: on a link with a 120 ms round trip, traffic
// that goes unanswered for a while (a one-way burst, requests whose
// replies are slow) probes and goes fast, but never takes a live tunnel
// Down.
func TestFrugalProbeAcrossRTT(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n, ss := frugalPair(t, seed)
			n.delay = 60 * time.Millisecond
			n.run(n.now.Add(5 * time.Second))
			for k := range 10 {
				n.stream(k%2, time.Duration(k)*3*time.Second, 300*time.Millisecond, 10*time.Millisecond)
			}
			n.run(n.now.Add(40 * time.Second))
			for i, s := range ss {
				if c := n.upChanges(i); len(c) != 0 {
					t.Errorf("end %d left Up:%s", i, describe(c))
				}
				if s.Status().Probes == 0 {
					t.Errorf("end %d never probed", i)
				}
			}
		})
	}
}

// TestFrugalRepliesCostNoProbe: the peer's BGP keepalive and our TCP ACK
// 30 ms later, every 10 s, idle otherwise: the ACK is a reply that nothing
// answers, and must not start a probe (each cost a Poll and a second of
// the fast rate); the keepalive itself is answered by the ACK.
func TestFrugalRepliesCostNoProbe(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n, ss := frugalPair(t, seed)
			for k := range 6 {
				at := time.Duration(k)*10*time.Second + 300*time.Millisecond
				n.stream(1, at, 0, 0)
				n.stream(0, at+30*time.Millisecond, 0, 0)
			}
			n.run(n.at(70 * time.Second))
			for i, s := range ss {
				if st := s.Status(); st.Probes != 0 {
					t.Errorf("end %d: %d probes for keepalives and their ACKs, want none", i, st.Probes)
				}
			}
		})
	}
}

// TestFrugalLostIdlePacket: one idle packet lost on the way costs one
// probe, answered, at the end that missed it; both stay Up and are back
// at the idle rate a few seconds later.
func TestFrugalLostIdlePacket(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n, ss := frugalPair(t, seed)
			next := ss[1].st.nextTx
			n.cutFrom[1], n.healAt[1] = next.Add(-time.Millisecond), next.Add(time.Millisecond)
			n.run(n.now.Add(20 * time.Second))
			lost := 0
			for _, sp := range n.sent[1] {
				if sp.lost {
					lost++
				}
			}
			if lost != 1 {
				t.Fatalf("%d of end 1's packets lost, want 1", lost)
			}
			for i, s := range ss {
				st := s.Status()
				probes := uint64(1 - i) // end 0 missed the packet
				if st.Probes != probes || st.ProbeDowns != 0 || st.Liveness != "frugal idle" || len(n.upChanges(i)) != 0 {
					t.Errorf("end %d: %d probes (%d unanswered), %s, changes:%s; want %d, 0, frugal idle, none",
						i, st.Probes, st.ProbeDowns, st.Liveness, describe(n.upChanges(i)), probes)
				}
			}
		})
	}
}
