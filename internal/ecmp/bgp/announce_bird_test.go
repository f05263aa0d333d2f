package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// The real receiver: BIRD 2 from Debian in a namespace of its own, joined
// by a veth pair to the namespace nstest gives the test. The breakout
// gateway (the next hop) is on the veth's subnet, since BIRD drops an eBGP
// route whose next hop is not on a connected network.
var (
	annAddr4  = addr("198.18.0.1")
	birdAddr4 = addr("198.18.0.2")
	birdGW4   = addr("198.18.0.254")
	birdGW6   = addr("2001:db8:a::254")
)

const pfx2asFile = "../../breakout/testdata/bgp-caida-routeviews-prefix2as-v4-20240406.pfx2as.gz"

// bird is a running BIRD and its control socket.
type bird struct {
	cmd  *exec.Cmd
	sock string
	ns   string
	out  *lockedBuffer
}

func needBird(t *testing.T) {
	t.Helper()
	for _, cmd := range []string{"bird", "birdc"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("needs %s: apt-get install -y --no-install-recommends bird2", cmd)
		}
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// startBird makes BIRD's namespace and the veth pair, then runs BIRD in
// the foreground with a passive session to the announcer and no kernel
// protocol: it only holds routes, it touches no kernel table.
func startBird(t *testing.T) *bird {
	t.Helper()
	ns := fmt.Sprintf("ua-bird-%d", os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "link", "add", "ua-ann", "type", "veth", "peer", "name", "ua-bird", "netns", ns)
	run(t, "ip", "addr", "add", "198.18.0.1/24", "dev", "ua-ann")
	run(t, "ip", "addr", "add", "2001:db8:a::1/64", "dev", "ua-ann", "nodad")
	run(t, "ip", "link", "set", "ua-ann", "up")
	run(t, "ip", "-n", ns, "addr", "add", "198.18.0.2/24", "dev", "ua-bird")
	run(t, "ip", "-n", ns, "addr", "add", "2001:db8:a::2/64", "dev", "ua-bird", "nodad")
	run(t, "ip", "-n", ns, "link", "set", "ua-bird", "up")
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")

	dir := t.TempDir()
	conf := filepath.Join(dir, "bird.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`router id %v;
protocol device { }
protocol bgp announcer {
	local %v as %d;
	neighbor %v as %d;
	passive on;
	ipv4 { import all; export none; };
	ipv6 { import all; export none; };
}
`, birdAddr4, birdAddr4, receiverASN, annAddr4, announcerASN)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	b := &bird{sock: filepath.Join(dir, "bird.ctl"), ns: ns, out: &lockedBuffer{}}
	b.cmd = exec.Command("ip", "netns", "exec", ns, "bird", "-c", conf, "-s", b.sock, "-f")
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start bird: %v", err)
	}
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		b.cmd.Wait()
		if t.Failed() {
			t.Logf("bird output:\n%s", b.out.String())
		}
	})
	eventually(t, 5*time.Second, func() string {
		if _, err := b.count(); err != nil {
			return err.Error()
		}
		return ""
	})
	return b
}

func (b *bird) birdc(args ...string) (string, error) {
	out, err := exec.Command("birdc", append([]string{"-s", b.sock}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("birdc %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

var birdTotal = regexp.MustCompile(`(?m)^Total: (\d+) of \d+ routes`)

// count is how many routes BIRD holds over both tables.
func (b *bird) count() (int, error) {
	out, err := b.birdc("show", "route", "count")
	if err != nil {
		return 0, err
	}
	m := birdTotal.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no total in %q", out)
	}
	return strconv.Atoi(m[1])
}

var birdVia = regexp.MustCompile(`via (\S+) on`)

// nextHop is the next hop BIRD holds for prefix.
func (b *bird) nextHop(p netip.Prefix) (netip.Addr, error) {
	out, err := b.birdc("show", "route", p.String())
	if err != nil {
		return netip.Addr{}, err
	}
	m := birdVia.FindStringSubmatch(out)
	if m == nil {
		return netip.Addr{}, fmt.Errorf("no next hop for %v in %q", p, out)
	}
	return netip.ParseAddr(m[1])
}

// rss is a process's peak resident set in MiB, from /proc.
func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%d MiB", kb>>10)
		}
	}
	return "?"
}

// birdPID is BIRD's own pid: the child of `ip netns exec` (which execs, so
// it is the same process).
func (b *bird) pid() int { return b.cmd.Process.Pid }

var (
	realOnce     sync.Once
	realPrefixes []netip.Prefix
	realErr      error
)

// realTable is the 998 k RouteViews prefixes.
func realTable(t *testing.T) []netip.Prefix {
	t.Helper()
	realOnce.Do(func() {
		body, err := os.ReadFile(pfx2asFile)
		if err != nil {
			realErr = err
			return
		}
		entries, err := feed.ParsePfx2as(body, nil)
		if err != nil {
			realErr = err
			return
		}
		realPrefixes = make([]netip.Prefix, len(entries))
		for i, e := range entries {
			realPrefixes[i] = e.Prefix()
		}
		realPrefixes = canonical(realPrefixes)
	})
	if realErr != nil {
		t.Fatalf("read real table: %v", realErr)
	}
	return realPrefixes
}

// spread picks n prefixes evenly over all of them.
func spread(all []netip.Prefix, n int) []netip.Prefix {
	if n >= len(all) {
		return all
	}
	out := make([]netip.Prefix, n)
	for i := range out {
		out[i] = all[i*len(all)/n]
	}
	return out
}

// birdAnnouncer starts BIRD and an announcer with a session to it, up.
func birdAnnouncer(t *testing.T, perPath bool) (*Announcer, *bird) {
	t.Helper()
	b := startBird(t)
	a := NewAnnouncer(testLog(t))
	a.perPath = perPath
	c := AnnouncerConfig{ASN: announcerASN, RouterID: annAddr4,
		Peers: []Peer{{Name: "bird", Address: birdAddr4, Local: annAddr4, ASN: receiverASN}}}
	if err := a.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	eventually(t, converge, established(a))
	return a, b
}

// announceUntilHeld sets prefixes and returns how long until BIRD holds
// want routes.
func announceUntilHeld(t *testing.T, a *Announcer, b *bird, prefixes []netip.Prefix, want int, timeout time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	if _, _, err := a.Set(context.Background(), prefixes, birdGW4, birdGW6); err != nil {
		t.Fatalf("Set: %v", err)
	}
	b.waitCount(t, want, timeout)
	return time.Since(begin)
}

// waitCount polls BIRD every 50 ms (its count walks the table: polling
// faster would steal the CPU being measured) until it holds want routes.
func (b *bird) waitCount(t *testing.T, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n, err := b.count()
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v BIRD holds %d routes (%v), want %d", timeout, n, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAnnouncerToBIRD(t *testing.T) {
	needBird(t)
	t.Parallel()
	if !nstest.Enter(t) {
		return
	}
	a, b := birdAnnouncer(t, false)
	set := spread(realTable(t), 100_000)
	v6 := testPrefixes(0, 0, 0, 100)
	took := announceUntilHeld(t, a, b, append(set, v6...), len(set)+len(v6), time.Minute)
	t.Logf("MEASURE %d IPv4 + %d IPv6 prefixes set until BIRD holds them all: %v (Set returned after %v)",
		len(set), len(v6), took.Round(time.Millisecond), a.Status(context.Background()).LastSetTook.Round(time.Millisecond))

	for _, p := range []netip.Prefix{set[0], set[len(set)/2], v6[7]} {
		want := birdGW4
		if p.Addr().Is6() {
			want = birdGW6
		}
		if got, err := b.nextHop(p); err != nil || got != want {
			t.Errorf("BIRD's next hop for %v = %v, %v; want %v", p, got, err, want)
		}
	}

	// 1 % churn: 1,000 go, 1,000 others (in 198.19.0.0/16) come.
	churned := append(append([]netip.Prefix{}, set[1000:]...), testPrefixes(8192, 1000, 0, 0)...)
	begin := time.Now()
	added, withdrawn, err := a.Set(context.Background(), append(churned, v6...), birdGW4, birdGW6)
	if err != nil || added != 1000 || withdrawn != 1000 {
		t.Fatalf("churn Set = %d added, %d withdrawn, %v; want 1000, 1000", added, withdrawn, err)
	}
	eventually(t, converge, func() string {
		if got, err := b.nextHop(churned[len(churned)-1]); err != nil || got != birdGW4 {
			return fmt.Sprintf("new prefix not held: %v %v", got, err)
		}
		if _, err := b.nextHop(set[0]); err == nil {
			return "withdrawn prefix still held"
		}
		return ""
	})
	if n, err := b.count(); err != nil || n != len(set)+len(v6) {
		t.Errorf("after churn BIRD holds %d routes (%v), want %d", n, err, len(set)+len(v6))
	}
	t.Logf("MEASURE 1 %% churn (1,000 + 1,000) until BIRD has it: %v", time.Since(begin).Round(time.Millisecond))

	begin = time.Now()
	if err := a.Withdraw(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.waitCount(t, 0, time.Minute)
	t.Logf("MEASURE Withdraw of %d until BIRD holds none: %v", len(churned)+len(v6), time.Since(begin).Round(time.Millisecond))

	// The gateway is back: the sessions, ended to withdraw, come up again
	// and carry the table.
	took = announceUntilHeld(t, a, b, set, len(set), time.Minute)
	t.Logf("MEASURE after Withdraw, %d set again until BIRD holds them: %v", len(set), took.Round(time.Millisecond))
}

// TestAnnouncerToBIRDFull is the benchmark of the breakout table over BGP:
// one packed announce against one UPDATE per prefix on 100 k, then the
// whole 998 k table, with peak memory. Run with UPLINKD_FULL=1 (root).
func TestAnnouncerToBIRDFull(t *testing.T) {
	if os.Getenv("UPLINKD_FULL") == "" {
		t.Skip("set UPLINKD_FULL=1 to announce the whole 998 k table to BIRD")
	}
	needBird(t)
	if !nstest.Enter(t) {
		return
	}
	all := realTable(t)
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-28s %10s %12s %12s\n", "run", "prefixes", "Set returned", "until held")
	var a *Announcer
	row := func(name string, n int, d time.Duration) {
		st := a.Status(context.Background())
		fmt.Fprintf(&table, "%-28s %10d %12v %12v\n", name, n, st.LastSetTook.Round(time.Millisecond), d.Round(time.Millisecond))
	}
	for _, tc := range []struct {
		name    string
		perPath bool
	}{{"one AddPath per prefix", true}, {"lists, packed", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var b *bird
			a, b = birdAnnouncer(t, tc.perPath)
			set := spread(all, 100_000)
			row(tc.name, len(set), announceUntilHeld(t, a, b, set, len(set), 5*time.Minute))
			begin := time.Now()
			a.Withdraw(context.Background())
			b.waitCount(t, 0, 5*time.Minute)
			row("  withdraw all", len(set), time.Since(begin))
		})
	}
	t.Run("whole table", func(t *testing.T) {
		var b *bird
		a, b = birdAnnouncer(t, false)
		row("whole table", len(all), announceUntilHeld(t, a, b, all, len(all), 5*time.Minute))
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		begin := time.Now()
		st := a.StatusAdvertised(context.Background())
		statusTook := time.Since(begin)
		fmt.Fprintf(&table, "status with advertised counts: %v (advertised %d, %d UPDATE messages)\n",
			statusTook.Round(time.Millisecond), st.Peers[0].Advertised4, st.Peers[0].UpdatesSent)
		churned := append(append([]netip.Prefix{}, all[:len(all)-10_000]...), testPrefixes(8192, 8000, 0, 0)...)
		begin = time.Now()
		added, withdrawn, err := a.Set(context.Background(), churned, birdGW4, birdGW6)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, func() string {
			if got, err := b.nextHop(churned[len(churned)-1]); err != nil || got != birdGW4 {
				return "churn not held yet"
			}
			if _, err := b.nextHop(all[len(all)-1]); err == nil {
				return "withdrawn prefix still held"
			}
			return ""
		})
		fmt.Fprintf(&table, "1 %% churn (%d added, %d withdrawn): Set returned %v, until held %v\n", added, withdrawn,
			a.Status(context.Background()).LastSetTook.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
		fmt.Fprintf(&table, "peak RSS: test process (announcer + test's own copies) %s, BIRD %s; Go heap in use after GC %d MiB\n",
			rss(os.Getpid()), rss(b.pid()), ms.HeapInuse>>20)
		begin = time.Now()
		a.Withdraw(context.Background())
		b.waitCount(t, 0, 5*time.Minute)
		row("  withdraw all", len(churned), time.Since(begin))
	})
	t.Logf("MEASURE%s", table.String())
}
