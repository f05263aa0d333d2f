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
		groups: map[netip.Prefix]uint32{}, installed: map[netip.Prefix][]fib.WeightedNexthop{},
		downAt: map[string]time.Time{}, handshake: slowHandshake, live: NewLiveness(time.Second), retInstalled: map[uint32]map[netip.Prefix][]fib.WeightedNexthop{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.reconcile(context.Background())
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
