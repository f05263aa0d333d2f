//go:build !linux

package engine

import "github.com/uplinkd/uplinkd/internal/fib"

// openKernel: breakout routes need Linux policy routing.
func openKernel() (kernel, error) { return nil, fib.ErrUnsupported }
