package rtprio

import (
	"os"
	"testing"
)

// TestLock: the goroutine's thread runs SCHED_FIFO at the priority asked
// for, and back at the normal policy after Set(0); other threads are not
// touched (the test's own goroutine stays normal).
func TestLock(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_NICE) to raise a thread's priority")
	}
	type state struct {
		fifo bool
		prio int
		err  error
	}
	got := make(chan []state)
	go func() {
		var s []state
		err := Lock(3)
		fifo, prio, cerr := Current()
		s = append(s, state{fifo, prio, err}, state{err: cerr})
		err = Set(0)
		fifo, prio, _ = Current()
		s = append(s, state{fifo, prio, err})
		got <- s // ending the goroutine ends its thread
	}()
	s := <-got
	if s[0].err != nil || s[1].err != nil {
		t.Fatalf("Lock(3): %v, %v", s[0].err, s[1].err)
	}
	if !s[0].fifo || s[0].prio != 3 {
		t.Errorf("after Lock(3) the thread is fifo=%v priority %d, want SCHED_FIFO 3", s[0].fifo, s[0].prio)
	}
	if s[2].err != nil || s[2].fifo || s[2].prio != 0 {
		t.Errorf("after Set(0): fifo=%v priority %d err %v, want the normal policy", s[2].fifo, s[2].prio, s[2].err)
	}
	if fifo, _, _ := Current(); fifo {
		t.Error("the test's own thread became SCHED_FIFO")
	}
}

func TestSetRange(t *testing.T) {
	for _, p := range []int{-1, Max + 1} {
		if err := Set(p); err == nil {
			t.Errorf("Set(%d) accepted", p)
		}
	}
}
