package bfd

import (
	"time"
)

// effect is what handling one event asks the loop to do once the session
// lock is released, so that callbacks and socket writes never run under it.
type effect struct {
	change  *Change
	final   bool          // answer a Poll with a Final (§6.8.7), at once
	sendNow bool          // state changed: tell the peer now, not a second later
	detect  time.Duration // >0: restart the detection timer; <0: stop it
}

func (s *Session) run() {
	defer close(s.exited)
	tx := time.NewTimer(0) // the first Down packet goes out at once
	defer tx.Stop()
	detect := time.NewTimer(time.Hour)
	detect.Stop()
	defer detect.Stop()
	for {
		var e effect
		select {
		case <-s.done:
			s.shutdown()
			return
		case p := <-s.rx:
			e = s.receive(p)
		case <-tx.C:
			s.transmit(false)
			tx.Reset(s.nextTx())
			continue
		case <-detect.C:
			e = s.expire()
		case down := <-s.admin:
			e = s.adminEvent(down)
		}
		s.apply(e, tx, detect)
	}
}

func (s *Session) apply(e effect, tx, detect *time.Timer) {
	if e.change != nil {
		s.report(*e.change)
	}
	if e.final {
		s.transmit(true)
	}
	if e.sendNow {
		s.transmit(false)
		tx.Reset(s.nextTx())
	}
	switch {
	case e.detect > 0:
		detect.Reset(e.detect)
	case e.detect < 0:
		detect.Stop()
	}
}

func (s *Session) report(c Change) {
	s.log.Info("bfd session state changed", "old", c.Old, "state", c.New, "diag", c.Diag, "remote_state", c.RemoteState)
	if s.notify != nil {
		s.notify(c)
	}
}

// receive applies a validated packet (RFC 5880 §6.8.6, from "Set
// bfd.RemoteDiscr" on).
func (s *Session) receive(r rxPacket) effect {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	p := r.p
	st.rxPackets++
	st.lastRx = r.at
	st.remoteDiscr = p.MyDiscr
	st.remoteState, st.remoteDiag = p.State, p.Diag
	st.remoteDesiredTx, st.remoteMinRx, st.remoteMult = p.DesiredMinTx, p.RequiredMinRx, p.DetectMult
	if p.Final {
		st.poll = false
	}
	// The detection time runs from the packet's arrival, stamped by the
	// reader, not from now: the hand-over to this goroutine must not push
	// the detection of a dead peer later.
	detect := max(detectTime(s.cfg.RequiredMinRx, p.DesiredMinTx, p.DetectMult)-time.Since(r.at), time.Millisecond)
	e := effect{final: p.Poll, detect: detect}
	if st.state == StateAdminDown {
		// §6.8.6: AdminDown discards the packet once the remote
		// variables are recorded; nothing to answer, nothing to time.
		e.final, e.detect = false, -1
	}
	e.change = s.transition(RecvEvent(p.State), r.at)
	e.sendNow = e.change != nil
	return e
}

// expire handles the detection timer (§6.8.4, §6.8.1 bfd.RemoteDiscr).
func (s *Session) expire() effect {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	// The peer is gone: forget it, and keep sending slowly so it can
	// find us again (a zero RemoteMinRx from it would silence us forever).
	st.remoteDiscr, st.remoteState, st.remoteMinRx, st.poll = 0, StateDown, 1, false
	c := s.transition(EventTimerExpired, time.Now())
	return effect{change: c, sendNow: c != nil}
}

func (s *Session) adminEvent(down bool) effect {
	ev := EventAdminUp
	if down {
		ev = EventAdminDown
	}
	s.mu.Lock()
	c := s.transition(ev, time.Now())
	s.mu.Unlock()
	e := effect{change: c, sendNow: c != nil}
	if down {
		e.detect = -1
	}
	return e
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
		st.desiredTx, st.poll, st.upSince = s.cfg.DesiredMinTx, true, at
	} else {
		st.desiredTx, st.poll, st.upSince = max(s.cfg.DesiredMinTx, slowTx), false, time.Time{}
	}
	return c
}

// nextTx is the jittered time to the next periodic packet.
func (s *Session) nextTx() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	iv, ok := txInterval(s.st.desiredTx, s.st.remoteMinRx)
	if !ok {
		// The peer asked for silence (§6.8.7); look again later.
		iv = slowTx
	}
	return jitter(iv, s.cfg.DetectMult, s.rnd)
}

// transmit sends one Control packet; final answers a Poll.
func (s *Session) transmit(final bool) {
	s.mu.Lock()
	if !final && s.st.remoteMinRx == 0 {
		s.mu.Unlock()
		return
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
func (s *Session) shutdown() {
	s.mu.Lock()
	c := s.transition(EventAdminDown, time.Now())
	s.mu.Unlock()
	if c != nil {
		s.report(*c)
		s.transmit(false)
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
