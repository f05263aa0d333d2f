package bfd

import (
	"time"

	"golang.org/x/sys/unix"
)

// sleepUntil blocks the calling goroutine's thread in nanosleep until
// deadline: the kernel's high-resolution timer, not the runtime's
// millisecond one (see detectMargin). The runtime hands the thread's P to
// others meanwhile.
func sleepUntil(deadline time.Time) {
	d := time.Until(deadline)
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(int64(d))
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}
