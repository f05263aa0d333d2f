package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// Well-known states; see sd_notify(3).
const (
	stateReady    = "READY=1"
	stateStopping = "STOPPING=1"
	stateWatchdog = "WATCHDOG=1"
)

// errBadSocket is returned for a $NOTIFY_SOCKET that names neither a path
// nor an abstract socket (e.g. systemd's newer "vsock:" form, which a
// router daemon never runs under).
var errBadSocket = errors.New("NOTIFY_SOCKET is neither an absolute path nor an abstract socket")

// Notify sends state (one or more newline-separated VAR=value lines) to the
// service manager. It reports false with no error when $NOTIFY_SOCKET is
// unset, so callers need not know whether they run under systemd.
func Notify(state string) (bool, error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return false, nil
	}
	if name[0] != '/' && name[0] != '@' {
		return false, fmt.Errorf("notify %q: %w", name, errBadSocket)
	}
	// Go's net package maps a leading '@' to the NUL byte of Linux's
	// abstract namespace, as systemd means it.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("notify %s: %w", name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("notify %s: %w", name, err)
	}
	return true, nil
}

// Ready tells systemd that start-up (or a reload) is done; with Type=notify,
// units ordered after this one start only now.
func Ready() (bool, error) { return Notify(stateReady) }

// Stopping tells systemd that the daemon is shutting down on its own
// account, so a slow teardown is not mistaken for a hang.
func Stopping() (bool, error) { return Notify(stateStopping) }

// Status sets the one-line text `systemctl status` shows. Newlines would
// start new assignments, so they become spaces.
func Status(msg string) (bool, error) {
	return Notify("STATUS=" + strings.ReplaceAll(msg, "\n", " "))
}

// Reloading tells systemd that a reload began; send Ready when it is done.
// systemd ≥ 253 wants MONOTONIC_USEC with it to tell this reload from an
// older one; where the clock cannot be read it is left out, which older
// managers accept.
func Reloading() (bool, error) {
	state := "RELOADING=1"
	if usec, ok := monotonicUsec(); ok {
		state += fmt.Sprintf("\nMONOTONIC_USEC=%d", usec)
	}
	return Notify(state)
}
