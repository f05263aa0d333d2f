package bfd

import (
	"time"
)

// effect is what handling one event asks the loop to do once the session
// lock is released, so that callbacks and socket writes never run under it.
type effect struct {
	change   *Change
	final    bool // answer a Poll with a Final (§6.8.7), at once, off the schedule
	periodic bool // the scheduled packet is due, or the state changed: tell the peer now
	sample   bool // a frugal session reads its tunnel's counters
}

// detectMargin is how early the loop's runtime timer fires before a
// detection deadline, the rest of the wait being a nanosleep (sleepUntil).
// Go's netpoller sleeps in whole milliseconds (epoll_wait), so a runtime
// timer fires 0-1 ms late: p50 0.65 ms measured on this machine kind, the
// `timer_late` of every detection, added to the detection time of every
// failure BFD finds. The kernel's high-resolution timer ends a nanosleep
// ~0.1 ms late. It happens only when no packet came for the detection time
// less this margin: at a failure, or nearly one.
const detectMargin = 2 * time.Millisecond

// run is the session's goroutine. Its two timers are deadlines in the
// session's state, so that any event can move either; one runtime timer
// wakes the loop at the earlier of them (before a detection deadline, see
// detectMargin).
func (s *Session) run() {
	defer close(s.exited)
	wake := time.NewTimer(0) // the first Down packet goes out at once
	defer wake.Stop()
	var precise time.Time
	for {
		var e effect
		select {
		case <-s.done:
			s.shutdown(time.Now())
			return
		case p := <-s.rx:
			e = s.receive(p, time.Now())
		case down := <-s.admin:
			e = s.adminEvent(down, time.Now())
		case c := <-s.retimer:
			e = s.retimeTo(c, time.Now())
		case <-wake.C:
			if !precise.IsZero() {
				sleepUntil(precise)
				s.catchUp()
			}
		}
		s.settle(e, time.Now())
		var at time.Time
		at, precise = s.nextWake()
		wake.Reset(time.Until(at))
	}
}

// nextWake is when the loop's runtime timer is to fire and, when the
// earliest deadline is the detection time, that deadline, which the loop
// then waits out itself, detectMargin after the timer.
func (s *Session) nextWake() (timer, precise time.Time) {
	w := s.wakeAt()
	s.mu.Lock()
	d := s.st.detectAt
	s.mu.Unlock()
	if d.IsZero() || !d.Equal(w) {
		return w, time.Time{}
	}
	return w.Add(-detectMargin), d
}

// catchUp handles the packets that came while the loop slept in
// sleepUntil, before the deadline is judged: a packet that arrived before
// it (its stamp says when) keeps the session up.
func (s *Session) catchUp() {
	for {
		select {
		case p := <-s.rx:
			now := time.Now()
			s.apply(s.receive(p, now), now)
		default:
			return
		}
	}
}

// settle carries out an event's effect, then whatever deadline has passed
// by now. The loop does this after every event; tests drive it directly
// on a clock of their own.
func (s *Session) settle(e effect, now time.Time) {
	s.apply(e, now)
	s.apply(s.due(now), now)
}

func (s *Session) apply(e effect, now time.Time) {
	if e.change != nil {
		s.report(*e.change)
	}
	if e.final {
		s.transmit(true, now)
	}
	if e.periodic {
		s.transmit(false, now)
	}
	if e.sample {
		s.sample(now)
	}
}

// sample reads the tunnel's counters, off the lock: a netlink round trip.
// The control packets are counted after the tunnel's counters (see
// controlRx), so that each one the tunnel counted is either in that count
// or still in the socket.
func (s *Session) sample(now time.Time) {
	t, err := s.src.Read()
	if err != nil {
		s.log.Debug("bfd read tunnel counters", "err", err)
		return
	}
	c := s.controlSeen()
	s.mu.Lock()
	e := s.observe(t, c, now)
	s.mu.Unlock()
	s.apply(e, now)
}

// due fires the deadlines that have passed: detection first, so that a
// packet due at the same moment already says Down.
func (s *Session) due(now time.Time) effect {
	s.mu.Lock()
	defer s.mu.Unlock()
	var e effect
	if d := s.st.detectAt; !d.IsZero() && !now.Before(d) {
		e = s.expire(now)
	}
	if e.change == nil {
		s.frugalDue(now, &e)
	}
	e.periodic = e.periodic || !now.Before(s.st.nextTx)
	return e
}

// wakeAt is the earliest deadline: the next packet, detection, and a
// frugal session's own.
func (s *Session) wakeAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.st.nextTx
	if d := s.st.detectAt; !d.IsZero() && d.Before(w) {
		w = d
	}
	if f, ok := s.frugalWake(); ok && f.Before(w) {
		w = f
	}
	return w
}

// report tells the owner of a state change, then logs it: a failover must
// not wait for a log line (a journal that is slow to read, or another
// goroutine's long line holding the handler).
func (s *Session) report(c Change) {
	if s.notify != nil {
		s.notify(c)
	}
	attrs := []any{"old", c.Old, "state", c.New, "diag", c.Diag, "remote_state", c.RemoteState}
	if c.Late > 0 {
		attrs = append(attrs, "timer_late", c.Late.Round(time.Microsecond))
	}
	s.log.Info("bfd session state changed", attrs...)
}

// receive applies a validated packet (RFC 5880 §6.8.6, from "Set
// bfd.RemoteDiscr" on).
func (s *Session) receive(r rxPacket, now time.Time) effect {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	p := r.p
	was := s.period()
	st.rxPackets++
	st.lastRx = r.at
	st.remoteDiscr = p.MyDiscr
	st.remoteState, st.remoteDiag = p.State, p.Diag
	s.follow(p, r.at)
	st.remoteDesiredTx, st.remoteMinRx, st.remoteMult = p.DesiredMinTx, p.RequiredMinRx, p.DetectMult
	s.answered(r.at) // a frugal session's probe has its answer
	s.stampIn(p.Stamp, r.at)
	if p.Final && st.poll {
		// §6.5: our Poll Sequence is answered; a rise of the interval,
		// and a lowered Required Min RX, apply from now (§6.8.3).
		st.poll, st.usedTx = false, st.desiredTx
		if st.pendingMinRx != 0 {
			s.cfg.RequiredMinRx, st.pendingMinRx = st.pendingMinRx, 0
		}
	}
	// The detection time runs from the packet's arrival, stamped by the
	// reader, not from now: the hand-over to this goroutine must not push
	// the detection of a dead peer later.
	st.detectAt = r.at.Add(detectTime(s.cfg.RequiredMinRx, p.DesiredMinTx, p.DetectMult))
	e := effect{final: p.Poll}
	if st.state == StateAdminDown {
		// §6.8.6: AdminDown discards the packet once the remote
		// variables are recorded; nothing to answer, nothing to time.
		e.final, st.detectAt = false, time.Time{}
	}
	e.change = s.transition(RecvEvent(p.State), r.at)
	faster := s.retarget()
	e.periodic = e.change != nil || faster
	s.retime(was, now)
	return e
}

// expire handles the detection timer (§6.8.4, §6.8.1 bfd.RemoteDiscr).
// Called with s.mu held.
func (s *Session) expire(now time.Time) effect {
	st := &s.st
	was := s.period()
	// The peer is gone: forget it, and keep sending slowly so it can
	// find us again (a zero RemoteMinRx from it would silence us forever).
	st.remoteDiscr, st.remoteState, st.remoteMinRx, st.poll = 0, StateDown, 1, false
	late := now.Sub(st.detectAt)
	st.detectAt = time.Time{}
	c := s.transition(EventTimerExpired, now)
	if c != nil {
		c.Late = late
	}
	s.retime(was, now)
	return effect{change: c, periodic: c != nil}
}

func (s *Session) adminEvent(down bool, now time.Time) effect {
	ev := EventAdminUp
	if down {
		ev = EventAdminDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.period()
	c := s.transition(ev, now)
	if down {
		s.st.detectAt = time.Time{}
	}
	s.retime(was, now)
	return effect{change: c, periodic: c != nil}
}

// retimeTo takes new timers while the session runs (a reload), without
// taking it down: Desired Min TX moves by retarget's rules (while Up, a
// Poll Sequence, a rise applying only once it is answered, §6.8.3); a
// new Required Min RX goes out with a Poll too, a raised one applying at
// once (the peer may only slow down), a lowered one timing the peer only
// once the Poll is answered; the multiplier goes out with the next packet,
// from which the peer takes its detection time.
func (s *Session) retimeTo(c SessionConfig, now time.Time) effect {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	was := s.period()
	s.cfg.DesiredMinTx, s.cfg.DetectMult, s.cfg.IdleInterval = c.DesiredMinTx, c.DetectMult, c.IdleInterval
	st.pendingMinRx = 0
	rxChanged := c.RequiredMinRx != s.cfg.RequiredMinRx
	if rxChanged && st.state == StateUp && c.RequiredMinRx < s.cfg.RequiredMinRx {
		st.pendingMinRx = c.RequiredMinRx
	} else {
		s.cfg.RequiredMinRx = c.RequiredMinRx
	}
	faster := s.retarget()
	if rxChanged && st.state == StateUp {
		st.poll = true
	}
	s.retime(was, now)
	s.log.Info("bfd timers changed", "tx", c.DesiredMinTx, "rx", c.RequiredMinRx, "mult", c.DetectMult, "poll", st.poll)
	return effect{periodic: faster || st.poll}
}

// transition runs the state machine and the side effects the RFC ties to
// entering or leaving Up. Called with s.mu held.
func (s *Session) transition(ev Event, at time.Time) *Change {
	st := &s.st
	next, diag, ok := Transition(st.state, ev)
	if !ok {
		return nil
	}
	c := &Change{Peer: s.cfg.Peer, Local: s.cfg.Local, Interface: s.cfg.Interface,
		Old: st.state, New: next, Diag: diag, RemoteState: st.remoteState, At: at}
	st.state, st.diag = next, diag
	st.changes++
	if next == StateUp {
		// §6.8.3: the fast rate is only allowed once Up, and changing it
		// starts a Poll Sequence (§6.5) so the peer confirms the new
		// rate; retarget does both. Desired Min TX moves while Up in
		// the frugal mode and on new timers (retimeTo), by the rules of
		// §6.8.3, which also keeps a lowered Required Min RX pending
		// until its Poll is answered.
		st.upSince = at
	} else {
		if c.Old == StateUp {
			s.forgetStamps()
		}
		st.poll, st.upSince = false, time.Time{}
		if st.pendingMinRx != 0 {
			s.cfg.RequiredMinRx, st.pendingMinRx = st.pendingMinRx, 0
		}
		s.resetFrugal()
	}
	s.retarget()
	return c
}

// period is the agreed transmit interval, or slowTx while the peer asks
// for no packets at all (§6.8.7), to look again later.
func (s *Session) period() time.Duration {
	if iv, ok := txInterval(s.st.usedTx, s.st.remoteMinRx); ok {
		return iv
	}
	return slowTx
}

// retime applies a change of the agreed transmit interval at once
// (RFC 5880 §6.8.2, §6.8.3, §6.8.7): the next periodic packet goes a
// freshly jittered new interval after the last periodic one, or now if
// that moment has passed. Faster, because a peer that lowered its Required
// Min RX times us by our Desired Min TX as soon as its Poll ends, which
// our Final does at once (FRR polls from 1 s to its profile on every
// bring-up); slower, because we must never send faster than the peer
// asked. A Final, sent off the schedule, is not the last periodic packet.
// Called with s.mu held.
func (s *Session) retime(was time.Duration, now time.Time) {
	iv := s.period()
	if iv == was {
		return
	}
	s.st.nextTx = later(s.st.lastTx.Add(jitter(iv, s.cfg.DetectMult, s.rnd)), now)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// transmit sends one Control packet: a Final answering a Poll, or the
// periodic one, which also sets when the next is due.
func (s *Session) transmit(final bool, now time.Time) {
	s.mu.Lock()
	if !final {
		silent := s.st.remoteMinRx == 0
		if !silent {
			s.st.lastTx = now
		}
		s.st.nextTx = now.Add(jitter(s.period(), s.cfg.DetectMult, s.rnd))
		if silent {
			s.mu.Unlock()
			return
		}
	}
	p := s.packet(final)
	p.Stamp = s.stamp(now)
	// Counted before the kernel counts it on the tunnel, so that a
	// frugal session never takes its own packet for someone else's.
	s.st.fr.own++
	s.mu.Unlock()
	_, err := s.conn.Write(p.Marshal())
	s.mu.Lock()
	s.st.txPackets++
	if err != nil {
		s.st.txErr++
		s.st.fr.own--
	}
	s.mu.Unlock()
	if err != nil {
		// Expected while a tunnel is down; the detection timer reports it.
		s.log.Debug("bfd send failed", "err", err)
	}
}

// packet builds the next Control packet. Called with s.mu held.
func (s *Session) packet(final bool) Packet {
	st := &s.st
	return Packet{
		Diag:          st.diag,
		State:         st.state,
		Poll:          st.poll && !final, // §6.5: never P and F together
		Final:         final,
		DetectMult:    s.cfg.DetectMult,
		MyDiscr:       s.localDiscr,
		YourDiscr:     st.remoteDiscr,
		DesiredMinTx:  usec(st.desiredTx),
		RequiredMinRx: usec(s.advertisedMinRx()),
	}
}

// advertisedMinRx is the Required Min RX our packets carry: a lowered one
// as soon as it is asked for, while the old one still times the peer.
// Called with s.mu held.
func (s *Session) advertisedMinRx() time.Duration {
	if s.st.pendingMinRx != 0 {
		return s.st.pendingMinRx
	}
	return s.cfg.RequiredMinRx
}

// shutdown says AdminDown to the peer before the session disappears.
func (s *Session) shutdown(now time.Time) {
	s.mu.Lock()
	c := s.transition(EventAdminDown, now)
	s.mu.Unlock()
	if c != nil {
		s.report(*c)
		s.transmit(false, now)
	}
	if err := s.conn.Close(); err != nil {
		s.log.Debug("bfd close socket", "err", err)
	}
	if s.src != nil {
		if err := s.src.Close(); err != nil {
			s.log.Debug("bfd close tunnel counters", "err", err)
		}
	}
}

// Status returns a snapshot of the session.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	txIv, _ := txInterval(st.usedTx, st.remoteMinRx)
	rxIv := max(s.cfg.RequiredMinRx, dur(st.remoteDesiredTx))
	return Status{
		Interface: s.cfg.Interface, Local: s.cfg.Local, Peer: s.cfg.Peer,
		State: st.state, RemoteState: st.remoteState, Diag: st.diag, RemoteDiag: st.remoteDiag,
		LocalDiscr: s.localDiscr, RemoteDiscr: st.remoteDiscr,
		TxInterval: txIv, RxInterval: rxIv,
		DetectTime:       time.Duration(st.remoteMult) * rxIv,
		RemoteDetectMult: st.remoteMult, PollActive: st.poll,
		Liveness: s.liveness(), AskedFrugal: s.askedFrugal, Probes: st.fr.probes, ProbeDowns: st.fr.probeDowns,
		LastRx: st.lastRx, UpSince: st.upSince, Uptime: uptime(st.upSince),
		TxPackets: st.txPackets, TxErrors: st.txErr, RxPackets: st.rxPackets,
		RxDropped: s.rxDrops.Load(), StateChanges: st.changes,
	}
}

func uptime(since time.Time) time.Duration {
	if since.IsZero() {
		return 0
	}
	return time.Since(since)
}
