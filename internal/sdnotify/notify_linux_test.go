package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen stands in for systemd: a unixgram socket at name, set as
// $NOTIFY_SOCKET for the test.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return c
}

// pathSocket keeps the path short: sun_path holds 108 bytes and
// t.TempDir() names can be long.
func pathSocket(t *testing.T) string {
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "notify")
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifySends(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func() (bool, error)
		want string
	}{
		{"ready", Ready, "READY=1"},
		{"stopping", Stopping, "STOPPING=1"},
		{"watchdog", Watchdog, "WATCHDOG=1"},
		{"status", func() (bool, error) { return Status("3/3 uplinks\nin ECMP") }, "STATUS=3/3 uplinks in ECMP"},
	} {
		for _, sock := range []struct{ kind, name string }{
			{"path", pathSocket(t)},
			{"abstract", fmt.Sprintf("@uplinkd-sdnotify-test-%d-%s", os.Getpid(), tc.name)},
		} {
			t.Run(tc.name+"/"+sock.kind, func(t *testing.T) {
				c := listen(t, sock.name)
				sent, err := tc.send()
				if !sent || err != nil {
					t.Fatalf("send = %v, %v; want true, nil", sent, err)
				}
				if got := receive(t, c); got != tc.want {
					t.Errorf("systemd got %q, want %q", got, tc.want)
				}
			})
		}
	}
}

func TestReloadingCarriesMonotonicClock(t *testing.T) {
	c := listen(t, pathSocket(t))
	before, _ := monotonicUsec()
	if sent, err := Reloading(); !sent || err != nil {
		t.Fatalf("Reloading() = %v, %v; want true, nil", sent, err)
	}
	after, _ := monotonicUsec()
	lines := strings.Split(receive(t, c), "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("systemd got %q, want RELOADING=1 and MONOTONIC_USEC=", lines)
	}
	usec, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
	if err != nil || usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%d (%v), want within [%d, %d] of CLOCK_MONOTONIC", usec, err, before, after)
	}
}

func TestNotifyWithNoListenerFails(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
	if sent, err := Ready(); sent || err == nil {
		t.Fatalf("Ready() to a missing socket = %v, %v; want false and an error", sent, err)
	}
}

// TestPingerPacesWatchdog: under WatchdogSec=200ms the pinger fires about
// every 100 ms and each ping reaches systemd as WATCHDOG=1.
func TestPingerPacesWatchdog(t *testing.T) {
	c := listen(t, pathSocket(t))
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	p := NewPinger()
	defer p.Stop()
	if p.Every() != 100*time.Millisecond {
		t.Errorf("ping every %v, want half of WatchdogSec 200ms", p.Every())
	}
	begin := time.Now()
	for range 3 {
		select {
		case <-p.C():
		case <-time.After(time.Second):
			t.Fatal("no ping due within a second")
		}
		if sent, err := Watchdog(); !sent || err != nil {
			t.Fatalf("Watchdog() = %v, %v", sent, err)
		}
		if got := receive(t, c); got != "WATCHDOG=1" {
			t.Errorf("systemd got %q, want WATCHDOG=1", got)
		}
	}
	if took := time.Since(begin); took < 250*time.Millisecond || took > 900*time.Millisecond {
		t.Errorf("3 pings took %v, want about 300ms", took)
	}
}

func TestPingerWithoutWatchdogNeverFires(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	p := NewPinger()
	defer p.Stop()
	if p.C() != nil || p.Every() != 0 {
		t.Fatalf("pinger without a watchdog: C %v, every %v; want nil, 0", p.C(), p.Every())
	}
}
