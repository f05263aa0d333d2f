//go:build !linux

package rtprio

import "errors"

// Set refuses a real-time priority off Linux.
func Set(prio int) error {
	if prio > 0 {
		return errors.New("real-time priority is supported on Linux only")
	}
	return nil
}

// Current reports no real-time policy off Linux.
func Current() (fifo bool, prio int, err error) { return false, 0, nil }
