package bfd

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// simNet is a point-to-point link in virtual time: no goroutines and no
// sleeps. run jumps the clock from one deadline or arrival to the next,
// so a minute of protocol takes milliseconds and a seed replays exactly.
type simNet struct {
	t       *testing.T
	now     time.Time
	delay   time.Duration // one way
	ends    [2]simEnd
	flight  []simPacket // in arrival order
	sent    [2][]simPacket
	changes [2][]Change
	// cutFrom[i]: what end i sends from then on is lost (zero: nothing
	// is); streams is user traffic on the tunnel (see frugal_sim_test.go).
	cutFrom [2]time.Time
	// healAt[i]: end i's loss ends then (zero: never).
	healAt  [2]time.Time
	streams []simStream
	// sockWait is how long a control packet waits in the receiver's
	// socket after the tunnel counted it (zero: none; see controlRx).
	sockWait time.Duration
}

// simPacket is one packet on the link.
type simPacket struct {
	from     int
	p        Packet
	sent, at time.Time // at: the receiving tunnel counts it
	read     time.Time // the receiving session has it
	lost     bool
}

// simEnd is one side of the link: one of our Sessions or a model of
// another implementation.
type simEnd interface {
	wakeAt() time.Time
	fire(now time.Time)
	recv(p Packet, at, now time.Time) // at: the kernel received it
}

var simEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newSimNet(t *testing.T) *simNet {
	return &simNet{t: t, now: simEpoch, delay: 200 * time.Microsecond}
}

// at is a virtual time as an offset from the start.
func (n *simNet) at(d time.Duration) time.Time { return simEpoch.Add(d) }

func (n *simNet) since(t time.Time) time.Duration { return t.Sub(simEpoch) }

// send puts a packet on the link from end i; called by the ends as they
// transmit.
func (n *simNet) send(from int, p Packet) {
	at := n.now.Add(n.delay)
	sp := simPacket{from: from, p: p, sent: n.now, at: at, read: at.Add(n.sockWait), lost: n.cut(from, n.now)}
	n.sent[from] = append(n.sent[from], sp)
	if !sp.lost {
		n.flight = append(n.flight, sp)
	}
}

// run advances the clock to until, delivering packets and firing timers
// due by then in time order; arrivals go before timers due at the same
// instant.
func (n *simNet) run(until time.Time) {
	n.t.Helper()
	for spins := 0; ; spins++ {
		if spins > 1_000_000 {
			n.t.Fatalf("simulation does not advance at %v", n.since(n.now))
		}
		var next time.Time
		who := -1
		consider := func(at time.Time, w int) {
			if !at.After(until) && (who < 0 || at.Before(next)) {
				next, who = at, w
			}
		}
		if len(n.flight) > 0 {
			consider(n.flight[0].read, 2)
		}
		for i, e := range n.ends {
			if e != nil {
				consider(e.wakeAt(), i)
			}
		}
		if who < 0 {
			n.now = until
			return
		}
		n.now = later(n.now, next)
		if who == 2 {
			sp := n.flight[0]
			n.flight = n.flight[1:]
			if to := n.ends[1-sp.from]; to != nil {
				to.recv(sp.p, sp.at, n.now)
			}
			continue
		}
		n.ends[who].fire(n.now)
	}
}

// simConn is a Session's socket onto the link.
type simConn struct {
	n    *simNet
	from int
}

func (c simConn) Write(b []byte) (int, error) {
	p, err := Unmarshal(b)
	if err != nil {
		c.n.t.Errorf("session sent an invalid packet: %v", err)
		return len(b), nil
	}
	c.n.send(c.from, p)
	return len(b), nil
}

func (c simConn) Close() error { return nil }

// simSession drives one of our Sessions the way its goroutine does, on
// the link's clock.
type simSession struct{ *Session }

func (e simSession) fire(now time.Time) { e.settle(effect{}, now) }

func (e simSession) recv(p Packet, at, now time.Time) {
	e.settle(e.receive(rxPacket{p: p, at: at}, now), now)
}

// addSession starts one of our sessions as end i, at the link's now, at
// 100 ms × 3 like the daemon, with jitter drawn from seed.
func (n *simNet) addSession(i int, seed uint64) *Session {
	cfg, err := SessionConfig{Interface: "wg-sim",
		Local: netip.AddrFrom4([4]byte{198, 18, 9, byte(i)}), Peer: netip.AddrFrom4([4]byte{198, 18, 9, byte(1 - i)}),
	}.withDefaults()
	if err != nil {
		n.t.Fatal(err)
	}
	s := newSession(cfg, uint32(1000+i), simConn{n, i}, testLogger(n.t), func(c Change) { n.changes[i] = append(n.changes[i], c) })
	s.rnd = rand.New(rand.NewPCG(seed, uint64(i)))
	// Its first packet goes out at once, as from run's first wake-up.
	s.st.nextTx = n.now
	n.ends[i] = simSession{s}
	return s
}

// frrModel is the peer of issue 16, FRR's bfdd 8.4, reduced to what its
// timers do, as a capture of it shows and as bfdd's bfd.c does it: while
// not Up it advertises and uses 1 s for both intervals (bs_set_slow_timers);
// on Up it advertises its profile's intervals with a Poll, and until that
// Poll ends (a Final from us, or our own Poll, which bfdd treats alike) it
// times us with the receive interval it used before. It answers a Poll
// with a Final at once, sends at once on a state change, jitters like the
// RFC, and in Init or Up goes Down when multiplier × max(its receive
// interval in use, our Desired Min TX) passes without a packet from us.
type frrModel struct {
	n                *simNet
	id               int
	rnd              *rand.Rand
	profile          time.Duration // transmit and receive interval once Up
	rxInUse          time.Duration // what detection uses: the old one until a Poll ends
	mult             uint8
	discr            uint32
	state            State
	diag             Diag
	poll             bool
	remoteDiscr      uint32
	remoteTx         uint32 // µs, as we advertise
	remoteRx         uint32
	remoteMult       uint8
	nextTx, detectAt time.Time
}

// addFRR starts the model as end i at the link's now with profile fast.
func (n *simNet) addFRR(i int, seed uint64) *frrModel {
	f := &frrModel{n: n, id: i, rnd: rand.New(rand.NewPCG(seed, 99)), profile: 100 * time.Millisecond,
		rxInUse: slowTx, mult: 3, discr: 0xf00d, state: StateDown, remoteRx: 1, nextTx: n.now}
	n.ends[i] = f
	return f
}

// advertised is what bfdd puts in its packets: the slow timers until Up.
func (f *frrModel) advertised() time.Duration {
	if f.state == StateUp {
		return f.profile
	}
	return slowTx
}

func (f *frrModel) wakeAt() time.Time {
	if !f.detectAt.IsZero() && f.detectAt.Before(f.nextTx) {
		return f.detectAt
	}
	return f.nextTx
}

func (f *frrModel) fire(now time.Time) {
	if !f.detectAt.IsZero() && !now.Before(f.detectAt) {
		f.detectAt = time.Time{}
		if f.state == StateInit || f.state == StateUp {
			f.remoteDiscr = 0
			f.enter(StateDown, DiagControlExpired)
			f.send(false)
		}
	}
	if !now.Before(f.nextTx) {
		f.send(false)
	}
}

func (f *frrModel) recv(p Packet, _, now time.Time) {
	f.remoteDiscr, f.remoteTx, f.remoteRx, f.remoteMult = p.MyDiscr, p.DesiredMinTx, p.RequiredMinRx, p.DetectMult
	if p.Final && f.poll {
		f.poll, f.rxInUse = false, f.profile
	}
	f.detectAt = now.Add(time.Duration(f.remoteMult) * max(f.rxInUse, dur(f.remoteTx)))
	if next, diag, ok := Transition(f.state, RecvEvent(p.State)); ok {
		f.enter(next, diag)
		f.send(false)
	}
	if p.Poll {
		if f.poll {
			f.poll, f.rxInUse = false, f.profile
		}
		f.send(true)
	}
}

func (f *frrModel) enter(s State, d Diag) {
	f.n.changes[f.id] = append(f.n.changes[f.id], Change{Old: f.state, New: s, Diag: d, At: f.n.now})
	f.state, f.diag = s, d
	if s == StateUp {
		f.poll = true // to the profile's timers, which it advertises from now
	} else {
		f.poll, f.rxInUse = false, slowTx
	}
}

// setProfile changes the profile's intervals while the session runs, as
// an operator's edit does: a Poll carries the new values.
func (f *frrModel) setProfile(d time.Duration) {
	f.profile = d
	if f.state == StateUp {
		f.poll = true
	}
}

func (f *frrModel) send(final bool) {
	adv := f.advertised()
	f.n.send(f.id, Packet{State: f.state, Diag: f.diag, Poll: f.poll && !final, Final: final,
		DetectMult: f.mult, MyDiscr: f.discr, YourDiscr: f.remoteDiscr,
		DesiredMinTx: usec(adv), RequiredMinRx: usec(adv)})
	if !final {
		f.nextTx = f.n.now.Add(jitter(max(adv, dur(f.remoteRx)), f.mult, f.rnd))
	}
}

// upChanges counts the changes of end i after its first Up, which a
// stable session never has.
func (n *simNet) upChanges(i int) []Change {
	for j, c := range n.changes[i] {
		if c.New == StateUp {
			return n.changes[i][j+1:]
		}
	}
	return nil
}

// firstUp is when end i first went Up, or the zero time.
func (n *simNet) firstUp(i int) time.Time {
	for _, c := range n.changes[i] {
		if c.New == StateUp {
			return c.At
		}
	}
	return time.Time{}
}

// periodic is what end i sent on its schedule (not the Finals) after
// from, with the last one at or before from first, so that the first gap
// measured is the one the change of interval fell into.
func (n *simNet) periodic(i int, from time.Time) []simPacket {
	var out []simPacket
	for _, sp := range n.sent[i] {
		if sp.p.Final {
			continue
		}
		if !sp.sent.After(from) {
			out = append(out[:0], sp)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// checkGaps asserts that every periodic packet of end i after from left
// within [lo, hi] of the one before it, where a change of interval
// arriving at from may leave the first gap up to from itself (the RFC's
// "as soon as practicable" when the new interval has already passed).
func (n *simNet) checkGaps(t *testing.T, i int, from, until time.Time, lo, hi time.Duration) {
	t.Helper()
	ps := n.periodic(i, from)
	if len(ps) == 0 {
		t.Errorf("end %d sent nothing", i)
		return
	}
	bad := 0
	for j := 1; j < len(ps) && !ps[j].sent.After(until); j++ {
		gap := ps[j].sent.Sub(ps[j-1].sent)
		limit := hi
		if j == 1 {
			limit = max(hi, from.Sub(ps[0].sent))
		}
		if gap < lo || gap > limit {
			if bad++; bad <= 5 {
				t.Errorf("end %d: periodic packet at %v, %v after the one before; want %v to %v",
					i, n.since(ps[j].sent), gap, lo, limit)
			}
		}
	}
	if bad > 5 {
		t.Errorf("end %d: %d gaps out of [%v, %v] in all", i, bad, lo, hi)
	}
	// Silence counts too: a session that stopped sending has no gaps.
	var last time.Time
	for _, sp := range ps {
		if !sp.sent.After(until) {
			last = sp.sent
		}
	}
	if quiet := until.Sub(last); until.Sub(from) > hi && quiet > hi {
		t.Errorf("end %d: nothing sent for the last %v before %v", i, quiet, n.since(until))
	}
}

// describe lists the first few changes and counts the rest.
func describe(cs []Change) string {
	s := ""
	for i, c := range cs {
		if i == 6 {
			return s + fmt.Sprintf(" … %d changes in all", len(cs))
		}
		s += fmt.Sprintf(" %v→%v(%v) at %v;", c.Old, c.New, c.Diag, c.At.Sub(simEpoch))
	}
	return s
}
