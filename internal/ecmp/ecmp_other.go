//go:build !linux

package ecmp

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Controller needs Linux.
type Controller struct{}

// Start needs Linux: it programs the Linux FIB.
func Start(context.Context, Plan, *slog.Logger, func(string) time.Time) (*Controller, error) {
	return nil, errors.New("ecmp needs Linux")
}

// Apply needs Linux.
func (c *Controller) Apply(context.Context, Plan) error { return nil }

// Close needs Linux.
func (c *Controller) Close(context.Context) error { return nil }

// Status needs Linux.
func (c *Controller) Status(context.Context) Status { return Status{} }

// DownTunnels needs Linux.
func (c *Controller) DownTunnels() map[string]bool { return nil }

// SetSLA needs Linux.
func (c *Controller) SetSLA(map[string]SLAVerdict) {}

// SetBreakoutGateway needs Linux.
func (c *Controller) SetBreakoutGateway(bool) {}

// Alive needs Linux.
func (c *Controller) Alive(string) bool { return false }

// SetLimits needs Linux.
func (c *Controller) SetLimits(map[string]Limit) {}
