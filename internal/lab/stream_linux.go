package lab

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
)

// OpenStream starts the stream server on the LAN host and connects to it
// from ul-web through the hub's published port; stop ends both.
func (l *Lab) OpenStream() (w *StreamWatch, stop func(), err error) {
	var ln net.Listener
	if err := InNS(l.NS("lan"), func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", StreamPort))
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("stream server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go ServeStream(ctx, ln)
	c, err := l.DialFrom("web", "tcp", net.JoinHostPort(HubPublic, fmt.Sprint(StreamPublishPort)), 2*time.Second)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("published stream: %w", err)
	}
	w = WatchStream(c)
	return w, func() { w.Close(); cancel() }, nil
}

// StreamCarrier is the carrier whose tunnel the edge sent the most on
// over a second (the stream's, while it is the only traffic).
func (l *Lab) StreamCarrier() (string, error) {
	best, most, err := l.BusiestTunnel(time.Second)
	if err != nil {
		return "", err
	}
	if most < 100<<10 {
		return "", fmt.Errorf("no tunnel carried the stream (most: %s, %d bytes in 1 s)", best, most)
	}
	return best, nil
}

// BusiestTunnel is the carrier whose tunnel the edge sent the most on
// over window, by its status's counters, and how many bytes that was.
func (l *Lab) BusiestTunnel(window time.Duration) (string, uint64, error) {
	tx := func() (map[string]uint64, error) {
		st, err := api.NewClient(l.Socket("edge")).Status()
		m := map[string]uint64{}
		for _, tu := range st.Tunnels {
			m[tu.Uplink] = uint64(tu.TxBytes)
		}
		return m, err
	}
	before, err := tx()
	if err != nil {
		return "", 0, err
	}
	time.Sleep(window)
	after, err := tx()
	if err != nil {
		return "", 0, err
	}
	best, most := "", uint64(0)
	for c, n := range after {
		d := n - before[c]
		if n < before[c] {
			// The peer was set again (the daemon re-handshakes a tunnel
			// whose BFD is down) and its counters started from 0.
			d = n
		}
		if d > most {
			best, most = c, d
		}
	}
	return best, most, nil
}
