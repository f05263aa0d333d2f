package bfd

import (
	"math/rand/v2"
	"time"
)

// The frugal mode (issue 17) makes an idle tunnel cheap on a metered
// carrier while a busy one still fails over within the configured
// detection time. It runs only between two ends that both offer it, each
// telling the other by the form of its My Discriminator (see offersFrugal),
// which no other implementation reads; with any other peer a session is
// plain asynchronous mode at the configured timers.
//
// Idle, both ends advertise Desired Min TX = the idle interval (2 s) and
// Required Min RX = the configured one, so each sends every 1.5 to 2 s and
// §6.8.4 detects the other only in multiplier × 2 s. Each end therefore
// also watches the silence itself: when nothing at all has come from the
// peer (no BFD packet, nothing in the tunnel) for the peer's interval and
// an eighth, it probes (below) and so detects an idle failure within 2.5 s
// at half the packets of a 1 s rate with a detection of 3 s; a lost packet
// costs one answered probe. The tunnel's own packet counters,
// read every samplePeriod, decide when that is not enough: what the tunnel
// receives is proof of life (others' traffic when it is counted, a control
// packet only if the kernel received it after what it would answer; see
// controlRx and answered); what it sends with nothing coming back starts
// a probe: Desired Min TX drops to the configured interval with a Poll
// (§6.8.3: a lower interval applies at once), sent at once and then at the
// fast rate until the Final comes back. The peer, seeing a Poll at the
// fast interval, drops its own interval too, and both detect each other
// at the fast rate, whatever the round-trip time, while traffic keeps
// going out unanswered (a one-way stream), the sender polling again every
// half quietPeriod to keep the peer there. Only Polls at the fast rate
// hold an end fast, never plain packets, so that two ends cannot hold each
// other there for ever: a Poll is sent only for a change or for traffic.
// A probe that nothing answers
// takes the session Down by itself after probeGrace, as an unanswered Poll
// does in Demand mode (§6.6): the peer cannot lower a detection time it
// never hears about. After quietPeriod without a probe the session polls
// back to the idle rate, sending fast until the Final (§6.8.3).
const (
	// DefaultIdleInterval is the frugal mode's idle transmit interval:
	// every 1.5 to 2 s each way (the jitter of §6.8.7), 0.37 GB per 30
	// days in 124-byte WireGuard packets, and, with the silence watch, an
	// idle failure detected within 2.25 s + a probe (2.47 s at 100 ms × 3).
	DefaultIdleInterval = 2 * time.Second
	// samplePeriod is how often a frugal session reads its tunnel's
	// counters.
	samplePeriod = 20 * time.Millisecond
	// loneWait is how long traffic sent in one sample waits for anything
	// to come back before a probe: longer than a TCP ACK (quick after an
	// idle spell) or a reply across a mobile carrier, so that a BGP
	// keepalive or a lone request costs no probe; short enough that a
	// flow starting on a tunnel that died while idle is out within a
	// second of its first packet (loneWait + what a probe waits, 160 ms).
	loneWait = 500 * time.Millisecond
	// busyWait is how long traffic that keeps going out (in two samples
	// or more) waits for anything to come back before a probe: two
	// samples, so that most of the detection time is left for the probe's
	// round trip.
	busyWait = 2 * samplePeriod
	// quietPeriod is how long the fast rate outlives the last probe, or
	// the peer's switch to it. Longer than any round trip, so that a late
	// Final for a fast Poll cannot pass for the Final of the Poll that
	// slows down, which §6.5 could not tell apart.
	quietPeriod = time.Second
	// replyWindow: traffic sent this soon after traffic came in is taken
	// for its reply (a TCP ACK of the peer's BGP keepalive, a response),
	// which nothing answers: alone, it starts no probe. Each such probe
	// cost a Poll and a second of the fast rate, about 20 packets, four
	// times a BGP keepalive interval per tunnel.
	replyWindow = 250 * time.Millisecond
	// silenceSlack is the share of the peer's interval its packets may be
	// late by before the silence watch probes (one in slackDiv): the
	// intervals of §6.8.7 only ever shorten, so this is for the path's
	// jitter and the peer's scheduler.
	silenceSlackDiv = 8
)

// Traffic is a tunnel's packet counters: the inner packets it received and
// sent, a session's own control packets included.
type Traffic struct {
	RxPackets, TxPackets uint64
}

// controlRx tells a frugal session which of the packets its tunnel
// received are control packets, so that only the others pass for user
// traffic: Taken counts those read from the tunnel's BFD socket, Pending
// says whether more wait in it. A control packet the kernel has counted
// and nobody read yet (the reading goroutine not scheduled, on a loaded
// machine for tens of milliseconds) would otherwise pass for user
// traffic, and the session would take a new flow's first packet on a
// dead tunnel for the reply to it (see replyWindow) instead of probing.
type controlRx interface {
	Taken() uint64
	Pending() bool
}

// controlCount is one reading of a controlRx.
type controlCount struct {
	taken   uint64
	pending bool
}

// controlSeen reads the socket's queue before its count: a packet that
// leaves the queue between the two is then in the count. Called off the
// lock, after the tunnel's counters. Every frugal session has a controlRx
// (Manager.Add gives it the listener with its tunnel's counters).
func (s *Session) controlSeen() controlCount {
	pending := s.ctl.Pending()
	return controlCount{taken: s.ctl.Taken(), pending: pending}
}

// TrafficSource reads one tunnel's counters for a frugal session.
type TrafficSource interface {
	Read() (Traffic, error)
	Close() error
}

// frugalState is a frugal session's view of its tunnel; guarded by
// Session.mu.
type frugalState struct {
	primed bool
	rx, tx uint64 // the counters as last read
	// own counts the control packets we tried to send, taken off the
	// tunnel's tx to leave the traffic of others; user is that as last
	// read, the highest seen (own is counted before the kernel counts the
	// packet, so the difference can dip for a moment). userRx is the
	// same for what the tunnel received, less the control packets.
	own          uint64
	user, userRx int64
	// userRxLast is userRx as last read, unconfirmed: the reply window
	// counts only what two readings agree on, against a control packet in
	// the instant between leaving the socket and being counted (see
	// controlRx). userRxSeen is the highest unconfirmed: what answers.
	userRxLast, userRxSeen int64

	nextSample time.Time
	// quietSince is the first sample that saw traffic sent and nothing
	// received since; txSamples counts the samples with traffic sent from
	// then on. Zero: nothing unanswered.
	quietSince time.Time
	txSamples  int
	// userRxAt is when traffic other than ours last came in; replyAt a
	// sample that sent traffic within replyWindow of it (a reply: no
	// question, unless the next sample sends more). Zero: none.
	userRxAt, replyAt time.Time
	// heardAt is when anything last came from the peer: a BFD packet or
	// the tunnel's rx counter moving. Zero: not since Up.
	heardAt time.Time
	// probeAt is when the probe for it began, deadline when the session
	// goes Down unless something comes back first. Zero: no probe.
	probeAt, deadline time.Time
	// busyUntil: the fast rate is wanted until then; zero: idle.
	// asserted is when we last polled to hold the peer fast.
	busyUntil, asserted time.Time
	probes, probeDowns  uint64
}

// Discriminators of sessions that offer the frugal mode carry a tag in
// their low 16 bits, a hash of the high 16: a random discriminator of
// another implementation has it by chance once in 65536, and then only
// makes us send more slowly to a peer that still detects us at its own
// rate. Discriminators of sessions that do not offer it never carry it.
func frugalTag(hi uint16) uint16 {
	return uint16((uint32(hi)*0x9e3779b1)>>16) ^ 0x554c
}

func offersFrugal(d uint32) bool {
	hi := uint16(d >> 16)
	return hi != 0 && uint16(d) == frugalTag(hi)
}

// randomDiscr draws a discriminator that offers the frugal mode or, for
// a session that does not, one that cannot be taken to.
func randomDiscr(frugal bool) uint32 {
	for {
		if frugal {
			hi := uint16(rand.Uint32())
			if hi != 0 {
				return uint32(hi)<<16 | uint32(frugalTag(hi))
			}
			continue
		}
		if d := rand.Uint32(); d != 0 && !offersFrugal(d) {
			return d
		}
	}
}

// frugal reports whether the session runs the frugal mode now: this end
// offers it, the peer does too, and the session is Up. Called with s.mu
// held.
func (s *Session) frugal() bool {
	return s.cfg.Frugal && s.src != nil && s.st.state == StateUp && offersFrugal(s.st.remoteDiscr)
}

// targetTx is the Desired Min TX the session wants now. Called with s.mu
// held.
func (s *Session) targetTx() time.Duration {
	switch {
	case s.st.state != StateUp:
		// §6.8.3: not less than one second until Up.
		return max(s.cfg.DesiredMinTx, slowTx)
	case s.frugal() && s.st.fr.busyUntil.IsZero():
		return s.cfg.IdleInterval
	}
	return s.cfg.DesiredMinTx
}

// retarget moves Desired Min TX towards targetTx by the rules of §6.8.3:
// outside Up at once and without a Poll; while Up with a Poll Sequence, a
// lower interval in use at once, a higher one only once the Poll is
// answered, and not begun while another Poll is outstanding, whose Final
// could not be told from its own (§6.5). It reports whether the interval
// in use fell, so that the peer should hear of it now. Called with s.mu
// held.
func (s *Session) retarget() (faster bool) {
	st := &s.st
	want := s.targetTx()
	switch {
	case want == st.desiredTx:
		return false
	case st.state != StateUp:
		st.desiredTx, st.usedTx = want, want
		return false
	case want < st.desiredTx:
		faster = want < st.usedTx
		st.desiredTx, st.usedTx, st.poll = want, want, true
		return faster
	case st.poll:
		return false // when the Final comes
	}
	st.desiredTx, st.poll = want, true
	return false
}

// observe takes one reading of the tunnel's counters and of its control
// packets. Called with s.mu held.
func (s *Session) observe(t Traffic, c controlCount, now time.Time) effect {
	fr := &s.st.fr
	user := int64(t.TxPackets) - int64(fr.own)
	ctl := c.taken
	if c.pending {
		ctl++ // one at least; more at once only if the reader stalls for a whole interval
	}
	userRx := int64(t.RxPackets) - int64(ctl)
	if !fr.primed || t.RxPackets < fr.rx || t.TxPackets < fr.tx {
		// First reading, or the counters went back (a re-created
		// interface): a new baseline, nothing to judge yet.
		fr.primed, fr.rx, fr.tx, fr.user, fr.userRx, fr.userRxLast, fr.userRxSeen = true, t.RxPackets, t.TxPackets, user, userRx, userRx, userRx
		return effect{}
	}
	confirmed := min(userRx, fr.userRxLast)
	fr.userRxLast = userRx
	// Traffic of others that came in answers what went out, at once;
	// control packets answer by their own arrival time, in receive. The
	// reply window waits for two readings to agree.
	rxMoved, txMoved, userRxMoved := userRx > fr.userRxSeen, user > fr.user, confirmed > fr.userRx
	fr.userRxSeen = max(fr.userRxSeen, userRx)
	fr.rx, fr.tx = t.RxPackets, t.TxPackets
	fr.user, fr.userRx = max(fr.user, user), max(fr.userRx, confirmed)
	if txMoved && !userRxMoved && !fr.busyUntil.IsZero() {
		s.holdFast(now)
	}
	if userRxMoved {
		fr.userRxAt = now
	}
	switch {
	case rxMoved:
		s.answered(now)
	case txMoved && fr.quietSince.IsZero() && !fr.replyAt.IsZero():
		// More right after a reply: traffic that keeps going out,
		// unanswered since the reply's sample.
		fr.quietSince, fr.txSamples, fr.replyAt = fr.replyAt, 2, time.Time{}
	case txMoved && fr.quietSince.IsZero() && !fr.userRxAt.IsZero() && now.Sub(fr.userRxAt) <= replyWindow:
		fr.replyAt = now
	case txMoved && fr.quietSince.IsZero():
		fr.quietSince, fr.txSamples = now, 1
	case txMoved:
		fr.txSamples++
	default:
		fr.replyAt = time.Time{} // the reply was alone
	}
	return s.maybeProbe(now)
}

// holdFast keeps a busy session fast while its traffic goes out with no
// traffic coming back (a one-way stream), polling now and then so that
// the peer stays fast too. Called with s.mu held.
func (s *Session) holdFast(now time.Time) {
	fr := &s.st.fr
	fr.busyUntil = now.Add(quietPeriod)
	if !s.st.poll && now.Sub(fr.asserted) >= quietPeriod/2 {
		s.st.poll, fr.asserted = true, now
	}
}

// answered notes that something came back at at: no probe is needed, and
// a probe under way has its answer. A control packet the kernel received
// before the traffic went unanswered (or before the probe began) is no
// answer to it, only a sign of life then: on a loaded machine it can wait
// in the socket past the next readings, and taking it for the answer left
// a new flow on a dead tunnel to the silence watch (2.47 s instead of
// 0.7). Called with s.mu held.
func (s *Session) answered(at time.Time) {
	fr := &s.st.fr
	fr.heardAt = later(fr.heardAt, at)
	if q := later(fr.quietSince, fr.probeAt); !q.IsZero() && at.Before(q) {
		return
	}
	fr.quietSince, fr.txSamples, fr.probeAt, fr.deadline = time.Time{}, 0, time.Time{}, time.Time{}
	fr.replyAt = time.Time{}
}

// silentUntil is when the silence watch probes a peer that sends at its
// idle rate, unless something comes from it first; ok is false when the
// watch is off: not frugal, a probe under way, the peer already fast (its
// packets are timed by §6.8.4 at the fast rate), or nothing heard yet.
// Called with s.mu held.
func (s *Session) silentUntil() (t time.Time, ok bool) {
	fr := &s.st.fr
	remote := dur(s.st.remoteDesiredTx)
	if !s.frugal() || !fr.probeAt.IsZero() || fr.heardAt.IsZero() || remote <= s.cfg.DesiredMinTx {
		return time.Time{}, false
	}
	return fr.heardAt.Add(remote + remote/silenceSlackDiv), true
}

// maybeProbe starts a probe once traffic has gone unanswered long enough:
// busyWait for traffic that keeps being sent (a busy tunnel), loneWait
// for one burst (a keepalive, a request, a new flow's first packet).
// Called with s.mu held.
func (s *Session) maybeProbe(now time.Time) effect {
	fr := &s.st.fr
	if fr.quietSince.IsZero() || !fr.probeAt.IsZero() || !s.frugal() {
		return effect{}
	}
	if dur(s.st.remoteDesiredTx) <= s.cfg.DesiredMinTx {
		// The peer sends at the fast rate: its packets are the proof,
		// and the detection time is already the configured one.
		return effect{}
	}
	wait := loneWait
	if fr.txSamples > 1 {
		wait = busyWait
	}
	if now.Before(fr.quietSince.Add(wait)) {
		return effect{}
	}
	s.log.Debug("bfd probe", "unanswered_for", now.Sub(fr.quietSince), "tx_samples", fr.txSamples)
	return s.probe(now, later(fr.quietSince.Add(s.busyDetect()), now.Add(s.busyDetect()-busyWait-samplePeriod)))
}

// probe polls at the fast rate; the session goes Down at deadline unless
// something comes back first. Called with s.mu held.
func (s *Session) probe(now, deadline time.Time) effect {
	fr := &s.st.fr
	fr.probeAt, fr.deadline = now, deadline
	fr.busyUntil, fr.asserted = now.Add(quietPeriod), now
	fr.probes++
	was := s.period()
	faster := s.retarget()
	// A Poll even when already fast: its Final is the answer awaited.
	// Sent at once when the rate falls (§6.8.3 lets it apply at once),
	// else with the next packet of the fast rate.
	s.st.poll = true
	s.retime(was, now)
	return effect{periodic: faster}
}

// busyDetect is how long traffic may go out unanswered before the session
// goes Down: the configured detection time less what sampling costs (the
// last packet received is seen up to a sample late, the first unanswered
// one sent up to another, the probe starts up to a third late) and a
// fourth for the FIB write and the scheduler, so that a busy tunnel
// that fails is Down within the configured detection time of the failure.
// A probe started late (for a lone packet) still waits for its answer what
// one started after busyWait would. At least one interval.
func (s *Session) busyDetect() time.Duration {
	iv := max(s.cfg.DesiredMinTx, s.cfg.RequiredMinRx)
	return max(time.Duration(s.cfg.DetectMult)*iv-4*samplePeriod, iv+busyWait+samplePeriod)
}

// follow holds the fast rate for quietPeriod when the peer polls at it,
// so that both ends time each other fast while either is busy. Called
// with s.mu held.
func (s *Session) follow(p Packet, at time.Time) {
	if s.frugal() && p.Poll && dur(p.DesiredMinTx) <= s.cfg.DesiredMinTx {
		s.st.fr.busyUntil = later(s.st.fr.busyUntil, at.Add(quietPeriod))
	}
}

// frugalDue runs a frugal session's deadlines: the probe's, the end of the
// fast rate, and the next reading of the counters. Called with s.mu held.
func (s *Session) frugalDue(now time.Time, e *effect) {
	fr := &s.st.fr
	if !s.frugal() {
		fr.nextSample = time.Time{}
		return
	}
	if !fr.deadline.IsZero() && !now.Before(fr.deadline) {
		fr.probeDowns++
		s.log.Info("bfd probe unanswered", "sent_unanswered_for", now.Sub(fr.quietSince), "probe_for", now.Sub(fr.probeAt))
		*e = s.expire(now)
		return
	}
	if at, ok := s.silentUntil(); ok && !now.Before(at) {
		s.log.Debug("bfd probe", "peer_silent_for", now.Sub(fr.heardAt))
		p := s.probe(now, now.Add(s.busyDetect()))
		e.periodic = e.periodic || p.periodic
	}
	if !fr.busyUntil.IsZero() && !now.Before(fr.busyUntil) && fr.probeAt.IsZero() && !s.st.poll {
		fr.busyUntil = time.Time{}
		s.retarget()
	}
	if !now.Before(fr.nextSample) {
		e.sample = true
		fr.nextSample = now.Add(samplePeriod)
	}
}

// frugalWake is the earliest frugal deadline (the zero time: at once, for
// the first reading); ok is false for none. Called with s.mu held.
func (s *Session) frugalWake() (t time.Time, ok bool) {
	if !s.frugal() {
		return time.Time{}, false
	}
	fr := &s.st.fr
	t = fr.nextSample
	if !fr.deadline.IsZero() && fr.deadline.Before(t) {
		t = fr.deadline
	}
	if at, ok := s.silentUntil(); ok && at.Before(t) {
		t = at
	}
	return t, true
}

// resetFrugal forgets the tunnel's state on leaving Up. Called with s.mu
// held.
func (s *Session) resetFrugal() {
	own := s.st.fr.own
	probes, downs := s.st.fr.probes, s.st.fr.probeDowns
	s.st.fr = frugalState{own: own, probes: probes, probeDowns: downs}
}

// liveness names the mode for status. Called with s.mu held.
func (s *Session) liveness() string {
	switch {
	case !s.cfg.Frugal:
		return "fast"
	case s.st.state != StateUp:
		return "frugal offered"
	case !s.frugal():
		return "fast (peer not frugal)"
	case s.st.fr.busyUntil.IsZero():
		return "frugal idle"
	}
	return "frugal busy"
}
