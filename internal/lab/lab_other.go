//go:build !linux

package lab

import (
	"context"
	"errors"
	"io"
)

var errLinux = errors.New("the lab needs Linux network namespaces")

// Up needs Linux.
func (l *Lab) Up(context.Context, io.Writer) error { return errLinux }

// Down needs Linux.
func (l *Lab) Down() error { return errLinux }

// WriteTable needs Linux.
func (l *Lab) WriteTable(io.Writer) error { return errLinux }

// KillHubDemo needs Linux.
func (l *Lab) KillHubDemo(context.Context, io.Writer) error { return errLinux }

// ReviveHubDemo needs Linux.
func (l *Lab) ReviveHubDemo(context.Context, io.Writer) error { return errLinux }
