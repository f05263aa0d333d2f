package daemon

import (
	"errors"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/bfd"
	"github.com/uplinkd/uplinkd/internal/nstest"
	"github.com/uplinkd/uplinkd/internal/sla"
)

// TestSLAPingerFallsBackToICMP: with no BFD session that can carry a
// probe (none on the interface here, as with a BIRD or FRR peer), the SLA
// probe goes as an ICMP echo, answered and said so; numbering stays ours.
func TestSLAPingerFallsBackToICMP(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	m := bfd.NewManager(bfd.Config{})
	defer m.Close()
	p := newSLAPinger(m.Stamper("wg-none"), netip.MustParseAddr("127.0.0.1"), true)
	defer p.Close()
	for want := 1; want <= 3; want++ {
		seq, err := p.Send()
		if err != nil || seq != want {
			t.Fatalf("Send = %d, %v; want %d", seq, err, want)
		}
		select {
		case r := <-p.Replies():
			if r.Seq != want || r.Via != "icmp" {
				t.Errorf("reply %+v, want seq %d by icmp", r, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no reply to probe %d", want)
		}
	}
}

// TestSLAPingerMeasureOnlySkips: a tunnel only measured gets no ICMP echo
// where BFD cannot carry the probe: Send says skip (not lost).
func TestSLAPingerMeasureOnlySkips(t *testing.T) {
	m := bfd.NewManager(bfd.Config{})
	defer m.Close()
	p := newSLAPinger(m.Stamper("wg-none"), netip.MustParseAddr("127.0.0.1"), false)
	defer p.Close()
	if _, err := p.Send(); !errors.Is(err, sla.ErrSkip) {
		t.Fatalf("Send = %v, want sla.ErrSkip", err)
	}
	if p.icmp != nil {
		t.Error("an ICMP socket was opened for a tunnel only measured")
	}
}
