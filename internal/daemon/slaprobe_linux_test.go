package daemon

import (
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/bfd"
	"github.com/uplinkd/uplinkd/internal/nstest"
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
	p := newSLAPinger(m.Stamper("wg-none"), netip.MustParseAddr("127.0.0.1"))
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
