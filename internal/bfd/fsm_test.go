package bfd

import "testing"

// TestTransition covers every (state, event) pair: the arrows of the
// RFC 5880 §6.2 diagram, the reception rules of §6.8.6, and the events
// that must leave the state alone.
func TestTransition(t *testing.T) {
	const (
		AD   = StateAdminDown
		D    = StateDown
		I    = StateInit
		U    = StateUp
		keep = false
		move = true
	)
	for _, tc := range []struct {
		from State
		ev   Event
		to   State
		diag Diag
		ok   bool
	}{
		// AdminDown ignores the peer and the timer; only the operator leaves it.
		{AD, EventRecvAdminDown, AD, 0, keep},
		{AD, EventRecvDown, AD, 0, keep},
		{AD, EventRecvInit, AD, 0, keep},
		{AD, EventRecvUp, AD, 0, keep},
		{AD, EventTimerExpired, AD, 0, keep},
		{AD, EventAdminDown, AD, DiagAdminDown, keep},
		{AD, EventAdminUp, D, DiagNone, move},
		// Down: "DOWN" → Init, "INIT" → Up; "UP, ADMIN DOWN, TIMER" loop.
		{D, EventRecvAdminDown, D, 0, keep},
		{D, EventRecvDown, I, DiagNone, move},
		{D, EventRecvInit, U, DiagNone, move},
		{D, EventRecvUp, D, 0, keep},
		{D, EventTimerExpired, D, 0, keep},
		{D, EventAdminDown, AD, DiagAdminDown, move},
		{D, EventAdminUp, D, 0, keep},
		// Init: "ADMIN DOWN, TIMER" → Down; "INIT, UP" → Up; "DOWN" loops.
		{I, EventRecvAdminDown, D, DiagNeighborDown, move},
		{I, EventRecvDown, I, 0, keep},
		{I, EventRecvInit, U, DiagNone, move},
		{I, EventRecvUp, U, DiagNone, move},
		{I, EventTimerExpired, D, DiagControlExpired, move},
		{I, EventAdminDown, AD, DiagAdminDown, move},
		{I, EventAdminUp, I, 0, keep},
		// Up: "DOWN, ADMIN DOWN, TIMER" → Down; "INIT, UP" loop.
		{U, EventRecvAdminDown, D, DiagNeighborDown, move},
		{U, EventRecvDown, D, DiagNeighborDown, move},
		{U, EventRecvInit, U, 0, keep},
		{U, EventRecvUp, U, 0, keep},
		{U, EventTimerExpired, D, DiagControlExpired, move},
		{U, EventAdminDown, AD, DiagAdminDown, move},
		{U, EventAdminUp, U, 0, keep},
	} {
		t.Run(tc.from.String()+"/"+tc.ev.String(), func(t *testing.T) {
			to, diag, ok := Transition(tc.from, tc.ev)
			if to != tc.to || ok != tc.ok || (ok && diag != tc.diag) {
				t.Errorf("Transition(%v, %v) = %v, %v, %v; want %v, %v, %v",
					tc.from, tc.ev, to, diag, ok, tc.to, tc.diag, tc.ok)
			}
		})
	}
}

func TestRecvEvent(t *testing.T) {
	for s, want := range map[State]Event{
		StateAdminDown: EventRecvAdminDown, StateDown: EventRecvDown,
		StateInit: EventRecvInit, StateUp: EventRecvUp,
	} {
		if got := RecvEvent(s); got != want {
			t.Errorf("RecvEvent(%v) = %v, want %v", s, got, want)
		}
	}
}
