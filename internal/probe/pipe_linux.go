package probe

import (
	"net/netip"
	"sync"
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

// Pipe sends echo requests without waiting for their replies, which
// arrive on Replies: probes keep their pace on a link whose round trip is
// longer than their interval, or that loses them.
type Pipe struct {
	p       *icmpProber
	mu      sync.Mutex // Send against itself
	replies chan Reply
}

// NewICMPPipe opens a Pipe to dst (iface as for NewICMP).
func NewICMPPipe(dst netip.Addr, iface string) (*Pipe, error) {
	pr, err := NewICMP(dst, iface)
	if err != nil {
		return nil, err
	}
	p := &Pipe{p: pr.(*icmpProber), replies: make(chan Reply, 64)}
	go p.read()
	return p, nil
}

// Send sends the next echo request and returns its sequence number.
func (p *Pipe) Send() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.p.send()
}

// Replies delivers the replies; it is closed when the Pipe is.
func (p *Pipe) Replies() <-chan Reply { return p.replies }

// read hands on every echo reply of ours until the socket closes.
func (p *Pipe) read() {
	defer close(p.replies)
	buf := make([]byte, 1500)
	for {
		n, _, err := p.p.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if seq, ok := p.p.reply(buf[:n]); ok {
			select {
			case p.replies <- Reply{Seq: seq, At: time.Now(), Via: "icmp"}:
			default: // nobody listening fast enough: it will count as lost
			}
		}
	}
}

// Close ends the Pipe.
func (p *Pipe) Close() error { return p.p.Close() }
