package lab

import (
	"context"
	"net"
	"sync"
	"time"
)

// StreamPort is where the LAN host's stream server listens, published at
// the hubs on StreamPublishPort: a long-lived TCP flow through a tunnel.
const (
	StreamPort        = 8090
	StreamPublishPort = 8444
)

// streamChunk and streamEvery pace the stream: 1 KiB every 5 ms, about
// 200 KiB/s, so a gap in it shows a stall to within a few milliseconds.
const (
	streamChunk = 1024
	streamEvery = 5 * time.Millisecond
)

// ServeStream sends every TCP client a paced stream of bytes until it
// hangs up or ctx ends.
func ServeStream(ctx context.Context, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		go stream(ctx, c)
	}
}

func stream(ctx context.Context, c net.Conn) {
	defer c.Close()
	buf := make([]byte, streamChunk)
	tick := time.NewTicker(streamEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// StreamWatch reads a stream and keeps the longest time without data
// since Mark.
type StreamWatch struct {
	conn    net.Conn
	mu      sync.Mutex
	last    time.Time
	longest time.Duration
	err     error // why the stream ended (a reset), nil while it flows
}

// WatchStream starts reading c; Close it.
func WatchStream(c net.Conn) *StreamWatch {
	w := &StreamWatch{conn: c, last: time.Now()}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			_, err := c.Read(buf)
			now := time.Now()
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			w.longest, w.last = max(w.longest, now.Sub(w.last)), now
			w.mu.Unlock()
		}
	}()
	return w
}

// Mark starts a new measure: gaps before it do not count.
func (w *StreamWatch) Mark() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last, w.longest = time.Now(), 0
}

// Longest is the longest time without data since Mark (counting the one
// still open), and why the stream ended if it did.
func (w *StreamWatch) Longest() (time.Duration, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return max(w.longest, time.Since(w.last)), w.err
}

// Close ends the watch and the connection.
func (w *StreamWatch) Close() { w.conn.Close() }
