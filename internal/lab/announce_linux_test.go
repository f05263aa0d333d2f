package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// birdRoutes asks BIRD how many routes it holds.
func birdRoutes(sock string) (int, error) {
	out, err := exec.Command("birdc", "-s", sock, "show", "route", "protocol", "edge", "count").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("birdc: %v: %s", err, out)
	}
	m := regexp.MustCompile(`Total: (\d+) of \d+ routes`).FindStringSubmatch(string(out))
	if m == nil {
		return 0, fmt.Errorf("birdc said: %s", out)
	}
	return strconv.Atoi(m[1])
}

func waitBird(t *testing.T, sock string, want func(int) bool, what string) time.Duration {
	t.Helper()
	start := time.Now()
	var n int
	var err error
	for time.Since(start) < 20*time.Second {
		if n, err = birdRoutes(sock); err == nil && want(n) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("BIRD holds %d routes (%v) after 20 s, want %s", n, err, what)
	return 0
}

// The role exabgp played: the LAN's own router (BIRD 2 in ul-lan) receives
// the breakout set over BGP with the 5G router as next hop, loses it when
// the 5G router goes away, and gets it back.
func TestBreakoutAnnouncedToBIRD(t *testing.T) {
	l := needLab(t)
	if _, err := exec.LookPath("bird"); err != nil {
		t.Skip("bird (Debian bird2) is not installed")
	}
	waitBreakout(t, l)
	dir := t.TempDir()
	sock := filepath.Join(dir, "bird.ctl")
	conf := filepath.Join(dir, "bird.conf")
	// The 5G router is not on the LAN: BIRD resolves the announced next
	// hop through the edge (multihop: recursive next hops).
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`router id %s;
protocol device { }
protocol static { ipv4; route 198.18.5.0/24 via 198.18.10.1; }
protocol static { ipv6; route 2001:db8:5::/64 via 2001:db8:10::1; }
protocol bgp edge {
	local %s as 65010;
	neighbor 198.18.10.1 as 64512;
	passive on;
	multihop 2;
	ipv4 { import all; export none; };
	ipv6 { import all; export none; };
}
`, LANHost, LANHost)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	bird := exec.Command("ip", "netns", "exec", l.NS("lan"), "bird", "-c", conf, "-s", sock, "-f")
	if err := bird.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { bird.Process.Kill(); bird.Wait() }()

	restore, err := l.WithEdgeConfig(fmt.Sprintf("\n[[breakout.peer]]\naddress = %q\nasn = 65010\n", LANHost))
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	installed := status(t, l, "edge").Breakout.Compile.Installed
	took := waitBird(t, sock, func(n int) bool { return n == installed }, fmt.Sprint(installed))
	t.Logf("BIRD received all %d breakout routes %s after the reload", installed, took.Round(time.Millisecond))
	out, _ := exec.Command("birdc", "-s", sock, "show", "route", "for", "3.112.0.1", "all").CombinedOutput()
	if !strings.Contains(string(out), "3.112.0.0/14") || !strings.Contains(string(out), BreakoutGW) {
		t.Errorf("BIRD's route for an AWS Tokyo address does not point at the 5G router:\n%s", out)
	}

	fiveG := l.NS("5g")
	exec.Command("ip", "-n", fiveG, "link", "set", "lan0", "down").Run()
	defer exec.Command("ip", "-n", fiveG, "link", "set", "lan0", "up").Run()
	took = waitBird(t, sock, func(n int) bool { return n == 0 }, "0 with the 5G router down")
	t.Logf("5G router down: BIRD's routes withdrawn in %s", took.Round(time.Millisecond))
	exec.Command("ip", "-n", fiveG, "link", "set", "lan0", "up").Run()
	took = waitBird(t, sock, func(n int) bool { return n == installed }, fmt.Sprint(installed, " again"))
	t.Logf("5G router back: BIRD has all %d routes again in %s", installed, took.Round(time.Millisecond))
}
