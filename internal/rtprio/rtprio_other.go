//go:build !linux

package rtprio

import (
	"errors"
	"runtime"
)

// Max is the highest real-time priority accepted.
const Max = 99

// Lock locks the goroutine to its thread; real-time priority is Linux's.
func Lock(prio int) error {
	runtime.LockOSThread()
	return Set(prio)
}

// Set refuses a real-time priority off Linux.
func Set(prio int) error {
	if prio > 0 {
		return errors.New("real-time priority is supported on Linux only")
	}
	return nil
}

// Current reports no real-time policy off Linux.
func Current() (fifo bool, prio int, err error) { return false, 0, nil }
