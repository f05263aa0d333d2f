package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/nstest"
)

// birdHub runs BIRD 2 as a hub would in namespace uap-bird-PID, joined by
// a veth pair to the test's namespace: one eBGP session, with `ttl
// security` as given and the lowered `error wait time` a hub needs (BIRD's
// default 60 s would keep a session down that long after each failure).
func birdHub(t *testing.T, ttlSecurity bool, hold time.Duration) {
	t.Helper()
	needBird(t)
	ns := fmt.Sprintf("uap-bird-%d", os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "link", "add", "uap-edge", "type", "veth", "peer", "name", "uap-bird", "netns", ns)
	// Gone at once, not when the kernel gets round to the namespace.
	t.Cleanup(func() { exec.Command("ip", "link", "del", "uap-edge").Run() })
	run(t, "ip", "addr", "add", "198.18.0.1/31", "dev", "uap-edge")
	run(t, "ip", "link", "set", "uap-edge", "up")
	run(t, "ip", "-n", ns, "addr", "add", "198.18.0.0/31", "dev", "uap-bird")
	run(t, "ip", "-n", ns, "link", "set", "uap-bird", "up")
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	ttl := "off"
	if ttlSecurity {
		ttl = "on"
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "bird.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, `router id 198.18.0.0;
protocol device { }
protocol bgp edge {
	local 198.18.0.0 as 64513;
	neighbor 198.18.0.1 as 64512;
	ttl security %s;
	hold time %d; keepalive time %d;
	connect retry time 1; error wait time 1, 2;
	ipv4 { import all; export none; };
}
`, ttl, int(hold.Seconds()), int(hold.Seconds())/3), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	cmd := exec.Command("ip", "netns", "exec", ns, "bird", "-c", conf, "-s", filepath.Join(dir, "bird.ctl"), "-f")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bird: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("bird output:\n%s", out.String())
		}
	})
}

// TestGTSMNoteWithBIRD is the case of issue 14: an edge with GTSM on and a
// BIRD hub without `ttl security on`. BIRD's segments come with TTL 1 and
// the edge drops them, so its session hangs in OpenSent; status must say
// GTSM within one hold time. With ttl_security off at the edge the
// session comes up and the note goes. (The other way round, BIRD with
// `ttl security on` and the edge off, BIRD took the session here: the
// mismatch in that direction is TestGTSMMismatchNote's, between two
// GoBGP speakers.)
func TestGTSMNoteWithBIRD(t *testing.T) {
	if !nstest.EnterAs(t, "uap") {
		return
	}
	needBird(t)
	const hold = 6 * time.Second
	birdHub(t, false, hold)
	c := Config{ASN: 64512, RouterID: addr("198.18.0.1"), ListenPort: -1, HoldTime: hold, Keepalive: hold / 3,
		Peers:  []Peer{{Name: "bird", Address: addr("198.18.0.0"), Local: addr("198.18.0.1"), ASN: 64513}},
		Accept: []netip.Prefix{v4Default},
	}
	s := start(t, c)
	took := eventually(t, hold, noteOf(s, "bird", "no OPEN from peer: GTSM mismatch (peer sends TTL 1? set `ttl security on` in BIRD"))
	st := s.Peers(context.Background())[0]
	t.Logf("GTSM on, BIRD without: %s, note %v after start: %q", st.State, took.Round(time.Millisecond), st.Note)
	c.DisableTTLSecurity = true
	if err := s.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, hold+5*time.Second+converge, noteOf(s, "bird", ""))
	t.Logf("ttl_security off: established, no note, %v after the change", took.Round(time.Millisecond))
}
