package bfd

// Event is an input to the session state machine of RFC 5880 §6.2.
type Event uint8

// Events of the state machine: a received packet carrying one of the four
// remote states, the detection timer expiring, and local administrative
// control.
const (
	EventRecvAdminDown Event = iota
	EventRecvDown
	EventRecvInit
	EventRecvUp
	EventTimerExpired
	EventAdminDown
	EventAdminUp
)

var eventNames = [...]string{"RecvAdminDown", "RecvDown", "RecvInit", "RecvUp", "TimerExpired", "AdminDown", "AdminUp"}

func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return "Event(?)"
}

// RecvEvent maps the state in a received packet to its event.
func RecvEvent(remote State) Event {
	return EventRecvAdminDown + Event(remote&3)
}

// Transition is the state machine of RFC 5880 §6.2 and the reception rules
// of §6.8.6, as a pure function: the next state and the diagnostic that
// explains it. ok is false when the event leaves the state unchanged, in
// which case the caller keeps its previous diagnostic.
func Transition(s State, e Event) (next State, diag Diag, ok bool) {
	switch {
	case e == EventAdminDown:
		return StateAdminDown, DiagAdminDown, s != StateAdminDown
	case s == StateAdminDown:
		// §6.8.6: in AdminDown received packets are discarded; only the
		// operator brings the session back, and it restarts from Down.
		if e == EventAdminUp {
			return StateDown, DiagNone, true
		}
		return s, 0, false
	case e == EventTimerExpired:
		return down(s, DiagControlExpired)
	case e == EventRecvAdminDown:
		return down(s, DiagNeighborDown)
	}
	return transitionActive(s, e)
}

// transitionActive covers Down, Init and Up receiving Down, Init or Up.
func transitionActive(s State, e Event) (State, Diag, bool) {
	switch s {
	case StateDown:
		switch e {
		case EventRecvDown:
			return StateInit, DiagNone, true
		case EventRecvInit:
			return StateUp, DiagNone, true
		}
	case StateInit:
		if e == EventRecvInit || e == EventRecvUp {
			return StateUp, DiagNone, true
		}
	case StateUp:
		if e == EventRecvDown {
			return StateDown, DiagNeighborDown, true
		}
	}
	return s, 0, false
}

// down moves Init and Up to Down; Down stays where it is.
func down(s State, d Diag) (State, Diag, bool) {
	if s == StateDown {
		return s, 0, false
	}
	return StateDown, d, true
}
