package sdnotify

import (
	"os"
	"strconv"
	"time"
)

// WatchdogInterval reports the unit's WatchdogSec= when it applies to this
// process: systemd sets $WATCHDOG_USEC, and $WATCHDOG_PID if the variables
// may have been inherited by a child. Ping at half the interval or faster.
func WatchdogInterval() (time.Duration, bool) {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0, false
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond, true
}

// Watchdog tells systemd the daemon is still alive.
func Watchdog() (bool, error) { return Notify(stateWatchdog) }
