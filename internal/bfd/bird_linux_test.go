//go:build linux

package bfd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// birdConf is a minimal BIRD 2 configuration: one single-hop BFD session
// per family towards our side, at the rate uplinkd uses.
const birdConf = `router id %[1]s;
log stderr all;
protocol device {}
protocol bfd {
	interface "%[3]s" {
		min rx interval 100 ms;
		min tx interval 100 ms;
		idle tx interval 1000 ms;
		multiplier 3;
	};
	neighbor %[4]s dev "%[3]s" local %[1]s;
	neighbor %[5]s dev "%[3]s" local %[2]s;
}
`

// TestBIRDInterop brings sessions Up with BIRD's BFD (Debian package
// bird2), checks that both sides agree, then kills BIRD and measures how
// long our side takes to notice.
func TestBIRDInterop(t *testing.T) {
	if _, err := exec.LookPath("bird"); err != nil {
		t.Skip("skipping: bird not installed (apt-get install -y --no-install-recommends bird2)")
	}
	l := newLab(t)
	dir := t.TempDir()
	conf, sock := filepath.Join(dir, "bird.conf"), filepath.Join(dir, "bird.ctl")
	text := fmt.Sprintf(birdConf, l.b4, l.b6, l.ifB, l.a4, l.a6)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	bird := startBIRD(t, l.nsB, conf, sock)

	rec := newRecorder()
	m := NewManager(Config{Logger: testLogger(t), OnChange: rec.OnChange})
	defer m.Close()
	a4, _ := l.pair(false)
	a6, _ := l.pair(true)
	start := time.Now()
	addIn(t, l.a, m, a4)
	addIn(t, l.a, m, a6)
	waitUp(t, m)
	t.Logf("our sessions Up with BIRD after %v", time.Since(start).Round(time.Millisecond))
	waitNegotiatedKey(t, m, a4.Key())
	waitNegotiatedKey(t, m, a6.Key())
	out := waitBIRD(t, l.nsB, sock, func(o string) bool { return strings.Count(o, " Up ") == 2 })
	t.Logf("birdc show bfd sessions:\n%s", out)

	// Our AdminDown must take BIRD's session down, and back up after.
	if err := m.SetAdminDown(a4.Key(), true); err != nil {
		t.Fatal(err)
	}
	out = waitBIRD(t, l.nsB, sock, func(o string) bool { return birdState(o, l.a4.String()) == "Down" })
	t.Logf("after our AdminDown on %s, BIRD shows:\n%s", a4.Key(), out)
	if err := m.SetAdminDown(a4.Key(), false); err != nil {
		t.Fatal(err)
	}
	waitUp(t, m)
	waitBIRD(t, l.nsB, sock, func(o string) bool { return strings.Count(o, " Up ") == 2 })

	rec.drain(a4.Key())
	rec.drain(a6.Key())
	at := time.Now()
	if err := bird.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, k := range []Key{a4.Key(), a6.Key()} {
		c := rec.wait(t, k, StateDown, 2*time.Second)
		took := c.At.Sub(at)
		t.Logf("%s: BIRD killed, Down after %v (configured 100ms × 3 = 300ms), diag %v", k, took.Round(time.Millisecond), c.Diag)
		if took > time.Second || c.Diag != DiagControlExpired {
			t.Errorf("%s: Down after %v, diag %v; want < 1s, %v", k, took, c.Diag, DiagControlExpired)
		}
	}
}

// startBIRD runs bird in the foreground inside ns; it is killed and reaped
// in Cleanup, before the namespaces are deleted.
func startBIRD(t *testing.T, ns, conf, sock string) *exec.Cmd {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", ns, "bird", "-c", conf, "-s", sock, "-f")
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bird: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("bird output:\n%s", stderr.String())
		}
	})
	return cmd
}

// waitBIRD polls `birdc show bfd sessions` until ok accepts its output.
func waitBIRD(t *testing.T, ns, sock string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("ip", "netns", "exec", ns, "birdc", "-s", sock, "show", "bfd", "sessions").CombinedOutput()
		if err == nil && ok(string(out)) {
			return string(out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("BIRD sessions not as expected after 10s (%v):\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// birdState returns the State column of BIRD's session with peer addr.
func birdState(out, addr string) string {
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == addr {
			return f[2]
		}
	}
	return ""
}
