package lab

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestPublishedStreamSurvivesBlackhole: a long-lived TCP stream from the
// LAN host's published server to ul-web, through the hub, keeps flowing
// when the tunnel it is on is blackholed: both ends' BFD take the tunnel
// out, the stream moves to another one and stalls for at most a second,
// with no reset.
func TestPublishedStreamSurvivesBlackhole(t *testing.T) {
	l := needLab(t)
	w := openStream(t, l)
	carrier := streamCarrier(t, l)
	w.Mark()
	start := time.Now()
	if err := Blackhole(l.NS(carrier), "home0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unblackhole(l.NS(carrier)) })
	time.Sleep(3 * time.Second)
	stall, err := w.Longest()
	if err != nil {
		t.Fatalf("the stream ended %v after %s's tunnel was blackholed: %v", time.Since(start).Round(time.Millisecond), carrier, err)
	}
	t.Logf("MEASURE published stream on %s's tunnel: longest stall %v across the blackhole", carrier, stall.Round(time.Millisecond))
	if stall > time.Second {
		t.Errorf("the stream stalled %v, want ≤ 1 s", stall.Round(time.Millisecond))
	}
	if now := streamCarrier(t, l); now == carrier {
		t.Errorf("the stream still counts on %s's tunnel", carrier)
	}
	if err := Unblackhole(l.NS(carrier)); err != nil {
		t.Fatal(err)
	}
	waitDefault(t, l, tunnelsOf(l), 20*time.Second)
}

// openStream starts the stream server on ul-lan and connects to it from
// ul-web through the hub's published port.
func openStream(t *testing.T, l *Lab) *StreamWatch {
	t.Helper()
	var ln net.Listener
	if err := InNS(l.NS("lan"), func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", StreamPort))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go ServeStream(ctx, ln)
	c, err := l.DialFrom("web", "tcp", net.JoinHostPort(HubPublic, fmt.Sprint(StreamPublishPort)), 2*time.Second)
	if err != nil {
		cancel()
		t.Fatalf("published stream: %v", err)
	}
	w := WatchStream(c)
	t.Cleanup(func() { w.Close(); cancel() })
	return w
}

// streamCarrier is the carrier whose tunnel the edge sends the most on over
// a second: the stream's.
func streamCarrier(t *testing.T, l *Lab) string {
	t.Helper()
	tx := func() map[string]uint64 {
		m := map[string]uint64{}
		for _, tu := range status(t, l, "edge").Tunnels {
			m[tu.Uplink] = uint64(tu.TxBytes)
		}
		return m
	}
	before := tx()
	time.Sleep(time.Second)
	after := tx()
	best, most := "", uint64(0)
	for c, n := range after {
		if d := n - before[c]; d > most {
			best, most = c, d
		}
	}
	if most < 100<<10 {
		t.Fatalf("no tunnel carried the stream (most: %s, %d bytes in 1 s)", best, most)
	}
	return best
}
