//go:build !linux

package bfd

import "time"

// sleepUntil sleeps until deadline; sessions run only on Linux.
func sleepUntil(deadline time.Time) { time.Sleep(time.Until(deadline)) }
