package lab

import (
	"testing"
	"time"
)

// TestFlowKeepsItsTunnel: a TCP flow from the LAN keeps its tunnel across
// retransmission timeouts, as it does behind a real wire, where the edge
// hashes its ports. The lab's LAN host shares the edge's kernel, and
// without keepTxHash the hash TCP draws again on each timeout reached the
// edge's multipath choice: the flow hopped to a random tunnel (two times
// in three). Three times over, the edge's LAN link is blackholed for 1.5 s (the
// flow times out three times; a drop on the LAN host itself would be a
// local error, on which TCP keeps its hash) and the flow must come back
// on the same tunnel.
func TestFlowKeepsItsTunnel(t *testing.T) {
	l := needLab(t)
	waitDefault(t, l, tunnelsOf(l), 30*time.Second)
	up, err := l.StartUploads()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Stop()
	if err := up.Add(); err != nil {
		t.Fatal(err)
	}
	first := flowCarrier(t, l)
	for round := range 3 {
		if err := Blackhole(l.NS("home"), "lan0"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if err := Unblackhole(l.NS("home")); err != nil {
			t.Fatal(err)
		}
		if got := flowCarrier(t, l); got != first {
			t.Fatalf("round %d: the flow came back on %s after its timeouts, want %s, where it was", round+1, got, first)
		}
	}
	t.Logf("the flow stayed on %s across three stalls of 1.5 s", first)
}

// flowCarrier waits until one tunnel carries the upload flow (≥ 1 Mbit/s
// sent by the edge over half a second: the flow resumed after a stall,
// TCP's next retransmission up to 3.2 s away) and names it.
func flowCarrier(t *testing.T, l *Lab) string {
	t.Helper()
	var best string
	var most uint64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		var err error
		if best, most, err = l.BusiestTunnel(500 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if most*8*2 >= 1e6 {
			return best
		}
	}
	t.Fatalf("no tunnel carried the flow at 1 Mbit/s within 10 s (the busiest: %s, %d bytes in 0.5 s)", best, most)
	return ""
}
