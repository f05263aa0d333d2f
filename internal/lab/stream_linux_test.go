package lab

import (
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

func openStream(t *testing.T, l *Lab) *StreamWatch {
	t.Helper()
	w, stop, err := l.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return w
}

func streamCarrier(t *testing.T, l *Lab) string {
	t.Helper()
	c, err := l.StreamCarrier()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
