package ecmp

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// TestReconcileReadsHandshakesOutsideTheLock: a full reconcile asks
// WireGuard for every tunnel's handshake (a UAPI round trip each); a
// failure arriving meanwhile takes the controller's lock (onBFD,
// onCarrier, the failovers goroutine) and must not wait for those reads.
func TestReconcileReadsHandshakesOutsideTheLock(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	h, err := fib.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	reading, release := make(chan struct{}), make(chan struct{})
	slowHandshake := func(string) time.Time {
		close(reading)
		<-release
		return time.Now()
	}
	c := &Controller{log: slog.New(slog.DiscardHandler), fib: h, speaker: bgp.New(slog.New(slog.DiscardHandler)),
		plan:   Plan{Table: 254, Links: []Link{{Name: "docomo", Interface: "wg-docomo", Weight: 1}}},
		groups: map[rkey]uint32{}, installed: map[netip.Prefix][]fib.WeightedNexthop{},
		downAt: map[string]time.Time{}, handshake: slowHandshake, live: NewLiveness(time.Second), retInstalled: map[uint32]map[netip.Prefix][]fib.WeightedNexthop{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.reconcile(context.Background(), time.Now())
	}()
	<-reading
	locked := c.mu.TryLock()
	if locked {
		c.mu.Unlock()
	}
	close(release)
	<-done
	if !locked {
		t.Fatal("the controller's lock was held while WireGuard's handshakes were read: a failure would wait for them")
	}
	if !c.sessions["docomo"] {
		t.Errorf("sessions after the reconcile: %v, want docomo's read as current", c.sessions)
	}
}

// TestGraceLinkAlive: the restart grace asks by link index whether a kept
// next hop's tunnel is alive, with the answer the tunnel's BGP next hops
// get: a WireGuard session gone is dead, a link that is no tunnel of the
// plan is not kept at all.
func TestGraceLinkAlive(t *testing.T) {
	c := &Controller{
		members: map[string]Member{
			"docomo": {Uplink: "docomo", LinkIndex: 7}, "docomo-v6": {Uplink: "docomo", LinkIndex: 7},
			"softbank": {Uplink: "softbank", LinkIndex: 8},
		},
		sessions: map[string]bool{"docomo": true, "softbank": false},
	}
	alive := c.linkAliveAt(time.Now())
	for link, want := range map[int]bool{7: true, 8: false, 9: false} {
		if got := alive(link); got != want {
			t.Errorf("link %d alive %v, want %v", link, got, want)
		}
	}
}
