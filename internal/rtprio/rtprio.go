package rtprio

import "runtime"

// Max is the highest SCHED_FIFO priority Linux offers.
const Max = 99

// Lock locks the calling goroutine to its OS thread for the rest of its
// life and, when prio is 1..Max, puts that thread in SCHED_FIFO at prio;
// 0 puts it back in the normal policy. The goroutine must not unlock the
// thread: ending the goroutine ends the thread.
func Lock(prio int) error {
	runtime.LockOSThread()
	return Set(prio)
}
