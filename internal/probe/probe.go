package probe

import (
	"context"
	"time"
)

// Prober sends one echo request and waits for its reply.
type Prober interface {
	Probe(ctx context.Context, timeout time.Duration) (rtt time.Duration, err error)
	Close() error
}
