// Package rtprio runs a goroutine on an OS thread of its own at a
// real-time priority (SCHED_FIFO), for the one job that must not wait for
// a CPU behind the rest of the machine: taking a dead tunnel out of the
// FIB. Under load a write to the kernel's next-hop groups otherwise waits
// its turn behind every busy task (BENCHMARKS.md row 1c: the failover's
// kernel writes in the lab). keepalived offers real-time priority to its
// VRRP and BFD processes (vrrp_rt_priority, bfd_rt_priority) for the same
// reason.
//
// The thread stays locked to its goroutine and is never handed back to
// the Go runtime: when the goroutine returns, the runtime ends the thread,
// so no other goroutine ever runs at the raised priority.
package rtprio
