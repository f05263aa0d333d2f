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
}

// run is the session's goroutine. Its two timers are deadlines in the
// session's state, so that any event can move either; one runtime timer
// wakes the loop at the earlier of them.
func (s *Session) run() {
	defer close(s.exited)
	wake := time.NewTimer(0) // the first Down packet goes out at once
	defer wake.Stop()
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
		case <-wake.C:
		}
		s.settle(e, time.Now())
		wake.Reset(time.Until(s.wakeAt()))
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
	e.periodic = e.periodic || !now.Before(s.st.nextTx)
	return e
}

// wakeAt is the earlier of the two deadlines.
func (s *Session) wakeAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.st.detectAt; !d.IsZero() && d.Before(s.st.nextTx) {
		return d
	}
	return s.st.nextTx
}

func (s *Session) report(c Change) {
	s.log.Info("bfd session state changed", "old", c.Old, "state", c.New, "diag", c.Diag, "remote_state", c.RemoteState)
	if s.notify != nil {
		s.notify(c)
	}
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
	st.remoteDesiredTx, st.remoteMinRx, st.remoteMult = p.DesiredMinTx, p.RequiredMinRx, p.DetectMult
	if p.Final {
		st.poll = false // §6.5: our Poll Sequence is answered
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
	e.periodic = e.change != nil
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
	st.detectAt = time.Time{}
	c := s.transition(EventTimerExpired, now)
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
	c := s.transition(ev, now)
	if down {
		s.st.detectAt = time.Time{}
	}
	return effect{change: c, periodic: c != nil}
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
		// starts a Poll Sequence (§6.5) so the peer confirms the new rate.
		// A session's intervals are fixed for its life: DesiredMinTx
		// falls only here, which may take effect at once, and rises only
		// on leaving Up, and RequiredMinRx never changes. So the rules of
		// §6.8.3 for a rise while Up (keep the old rate until the Poll
		// ends) and for a lower RequiredMinRx (keep the old detection
		// time until then) have nothing to apply to.
		st.desiredTx, st.poll, st.upSince = s.cfg.DesiredMinTx, true, at
	} else {
		st.desiredTx, st.poll, st.upSince = max(s.cfg.DesiredMinTx, slowTx), false, time.Time{}
	}
	return c
}

// period is the agreed transmit interval, or slowTx while the peer asks
// for no packets at all (§6.8.7), to look again later.
func (s *Session) period() time.Duration {
	if iv, ok := txInterval(s.st.desiredTx, s.st.remoteMinRx); ok {
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
	s.mu.Unlock()
	_, err := s.conn.Write(p.Marshal())
	s.mu.Lock()
	s.st.txPackets++
	if err != nil {
		s.st.txErr++
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
		RequiredMinRx: usec(s.cfg.RequiredMinRx),
	}
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
}

// Status returns a snapshot of the session.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	txIv, _ := txInterval(st.desiredTx, st.remoteMinRx)
	rxIv := max(s.cfg.RequiredMinRx, dur(st.remoteDesiredTx))
	return Status{
		Interface: s.cfg.Interface, Local: s.cfg.Local, Peer: s.cfg.Peer,
		State: st.state, RemoteState: st.remoteState, Diag: st.diag, RemoteDiag: st.remoteDiag,
		LocalDiscr: s.localDiscr, RemoteDiscr: st.remoteDiscr,
		TxInterval: txIv, RxInterval: rxIv,
		DetectTime:       time.Duration(st.remoteMult) * rxIv,
		RemoteDetectMult: st.remoteMult, PollActive: st.poll,
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
