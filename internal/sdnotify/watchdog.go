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

// Pinger paces watchdog pings for a daemon's main loop: select on C and
// call Watchdog when it fires. Pinging from the loop rather than from a
// goroutine of its own means a loop that hangs stops the pings, and
// systemd restarts the daemon.
type Pinger struct {
	t     *time.Ticker // nil: no watchdog
	every time.Duration
}

// NewPinger ticks at half the unit's WatchdogSec; without a watchdog its C
// never fires.
func NewPinger() *Pinger {
	d, ok := WatchdogInterval()
	if !ok {
		return &Pinger{}
	}
	every := max(d/2, time.Millisecond)
	return &Pinger{t: time.NewTicker(every), every: every}
}

// C fires when a ping is due; nil (never) without a watchdog.
func (p *Pinger) C() <-chan time.Time {
	if p.t == nil {
		return nil
	}
	return p.t.C
}

// Every is the ping interval; zero without a watchdog.
func (p *Pinger) Every() time.Duration { return p.every }

// Stop stops the ticker.
func (p *Pinger) Stop() {
	if p.t != nil {
		p.t.Stop()
	}
}
