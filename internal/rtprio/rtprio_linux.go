package rtprio

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Set changes the calling thread's policy as Lock does; the caller must
// already hold its thread (Lock).
func Set(prio int) error {
	if prio < 0 || prio > Max {
		return fmt.Errorf("real-time priority %d is out of range (0 for none, or 1 to %d)", prio, Max)
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}
	if prio > 0 {
		attr.Policy, attr.Priority = unix.SCHED_FIFO, uint32(prio)
	}
	// pid 0: this thread, not the process.
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("set SCHED_FIFO priority %d on the failover thread: %w (it needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least %d, under systemd LimitRTPRIO= and RestrictRealtime=no; ecmp.failover_priority = 0 turns it off)", prio, err, prio)
	}
	return nil
}

// Current reports the calling thread's policy and real-time priority.
func Current() (fifo bool, prio int, err error) {
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return false, 0, err
	}
	return attr.Policy == unix.SCHED_FIFO, int(attr.Priority), nil
}
