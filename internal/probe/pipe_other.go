//go:build !linux

package probe

import (
	"errors"
	"net/netip"
	"time"
)

// Reply is the answer to the echo request of sequence number Seq.
type Reply struct {
	Seq int
	At  time.Time
	// RTT is the round trip when the prober knows it better than At
	// less the time of Send (a probe that left later, a far end that
	// held it); zero: that.
	RTT time.Duration
	// Via names how it was measured: "icmp" (echo) or "bfd" (BFD's
	// timestamps, issue 17).
	Via string
}

// Pipe is Linux only.
type Pipe struct{}

// NewICMPPipe is Linux only.
func NewICMPPipe(netip.Addr, string) (*Pipe, error) {
	return nil, errors.New("icmp probes are linux only")
}

// Send is Linux only.
func (*Pipe) Send() (int, error) { return 0, errors.New("icmp probes are linux only") }

// Replies is Linux only.
func (*Pipe) Replies() <-chan Reply { return nil }

// Close is Linux only.
func (*Pipe) Close() error { return nil }
