package sdnotify

import (
	"errors"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestNotifyWithoutSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	for name, f := range map[string]func() (bool, error){"Ready": Ready, "Stopping": Stopping, "Reloading": Reloading} {
		if sent, err := f(); sent || err != nil {
			t.Errorf("%s without NOTIFY_SOCKET = %v, %v; want false, nil", name, sent, err)
		}
	}
}

func TestNotifyRefusesRelativeSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "vsock:2:1234")
	sent, err := Ready()
	if sent || !errors.Is(err, errBadSocket) {
		t.Fatalf("Ready() = %v, %v; want false, %v", sent, err, errBadSocket)
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, tc := range []struct {
		name, usec, pid string
		want            time.Duration
		ok              bool
	}{
		{"unset", "", "", 0, false},
		{"ours", "30000000", "self", 30 * time.Second, true},
		{"no pid", "500000", "", 500 * time.Millisecond, true},
		{"another process's", "30000000", "1", 0, false},
		{"garbage", "soon", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tc.usec)
			pid := tc.pid
			if pid == "self" {
				pid = strconv.Itoa(os.Getpid())
			}
			t.Setenv("WATCHDOG_PID", pid)
			got, ok := WatchdogInterval()
			if got != tc.want || ok != tc.ok {
				t.Errorf("WatchdogInterval() = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
