package solo

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/lab"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// The network inside a solo namespace. Nothing leaves it: the uplink and
// the breakout link are veth pairs with both ends inside, so the tunnel's
// handshakes to the (absent) hub die there.
const (
	upLink     = "ulk-up0" // the uplink's underlay; its peer is ulk-up1
	upGateway  = "100.64.77.2"
	boLink     = "ulk-bo0" // the link to the breakout gateway; peer ulk-bo1
	boGateway  = "198.51.100.2"
	feedAddr   = "127.0.0.1:8099" // the test's feed server, on the namespace's loopback
	boTable    = config.BreakoutTable
	boPriority = config.BreakoutPriority
)

// binary is the uplinkd built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Println("solo tests skipped: they need root to make a network namespace (run `sudo make test`)")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "uplinkd-solo")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "uplinkd")
	if out, err := exec.Command("go", "build", "-o", binary, "github.com/uplinkd/uplinkd/cmd/uplinkd").CombinedOutput(); err != nil {
		fmt.Printf("build uplinkd: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

var seq atomic.Int32

// solo is one namespace with its links, a config and at most one daemon.
type solo struct {
	t      *testing.T
	ns     string
	dir    string // config, key, socket, log, state
	tunnel string // the WireGuard interface, unique machine-wide (UAPI sockets are shared)
	cmd    *exec.Cmd
	exited chan struct{}
	// wrap, when set, is put between `ip netns exec` and the daemon (a
	// private mount namespace, say); it must exec its last arguments.
	wrap []string
}

// newSolo makes the namespace and its links; everything goes in t.Cleanup,
// the daemon first.
func newSolo(t *testing.T) *solo {
	t.Helper()
	if binary == "" {
		t.Skip("needs root: runs the daemon in a network namespace (run `sudo make test`)")
	}
	n := seq.Add(1)
	s := &solo{t: t, ns: fmt.Sprintf("ulk-%d-%d", os.Getpid(), n), dir: t.TempDir(),
		tunnel: fmt.Sprintf("ulk%d-%d", os.Getpid()%1000000, n)}
	if err := os.Chmod(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "netns", "add", s.ns)
	t.Cleanup(s.cleanup)
	run(t, "ip", "-n", s.ns, "link", "set", "lo", "up")
	s.veth(upLink, "ulk-up1", "100.64.77.1/24")
	s.veth(boLink, "ulk-bo1", "198.51.100.1/24")
	return s
}

func (s *solo) veth(name, peer, addr string) {
	run(s.t, "ip", "-n", s.ns, "link", "add", name, "type", "veth", "peer", "name", peer)
	run(s.t, "ip", "-n", s.ns, "addr", "add", addr, "dev", name)
	run(s.t, "ip", "-n", s.ns, "link", "set", name, "up")
	run(s.t, "ip", "-n", s.ns, "link", "set", peer, "up")
}

// cleanup kills the daemon, removes the stale UAPI socket a SIGKILL
// leaves and deletes the namespace (its links go with it).
func (s *solo) cleanup() {
	s.kill()
	os.Remove(filepath.Join("/var/run/wireguard", s.tunnel+".sock"))
	if out, err := exec.Command("ip", "netns", "del", s.ns).CombinedOutput(); err != nil {
		s.t.Errorf("delete namespace %s: %v: %s", s.ns, err, out)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

func (s *solo) path(name string) string { return filepath.Join(s.dir, name) }

// configPath, stateDir and logPath are the daemon's files.
func (s *solo) configPath() string { return s.path("edge.toml") }
func (s *solo) stateDir() string   { return s.path("state") }
func (s *solo) logPath() string    { return s.path("uplinkd.log") }

// writeConfig writes an edge config with one uplink (its hub never
// answers) and breakout from sources, a TOML fragment of
// [[breakout.source]] tables; breakoutExtra goes into [breakout].
func (s *solo) writeConfig(breakoutExtra, sources string) {
	s.t.Helper()
	key := s.path("private.key")
	if _, err := os.Stat(key); err != nil {
		k, err := wg.GenKey()
		if err == nil {
			err = os.WriteFile(key, []byte(k+"\n"), 0o600)
		}
		if err != nil {
			s.t.Fatal(err)
		}
	}
	hubKey, err := wg.GenKey()
	if err == nil {
		hubKey, err = wg.PubKey(hubKey)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	conf := fmt.Sprintf(`role = "edge"
site = "solo"
asn = 64512
router_id = "198.18.77.2"
state_dir = %q

[wireguard]
private_key_file = %q

[api]
socket = %q

[bgp]
peer_asn = 64513

[[uplink]]
name = "solo"
interface = %q
gateway = %q
tunnel_interface = %q
tunnel_address = ["100.64.78.0/31"]
endpoint = "198.18.77.1:51820"
public_key = %q

[breakout]
gateway = %q
interface = %q
probe = false
%s
%s`, s.stateDir(), key, s.path("uplinkd.sock"), upLink, upGateway, s.tunnel, hubKey, boGateway, boLink, breakoutExtra, sources)
	if err := os.WriteFile(s.configPath(), []byte(conf), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// urlSource is a [[breakout.source]] of type url on the test's feed server.
func urlSource(name, path string) string {
	return fmt.Sprintf("\n[[breakout.source]]\nname = %q\ntype = \"url\"\nurl = \"http://%s/%s\"\nallow_http = true\nrefresh = 3600\n", name, feedAddr, path)
}

// start runs `uplinkd run` in the namespace (through wrap, if set) and
// waits for its control socket.
func (s *solo) start() {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{"netns", "exec", s.ns}, s.wrap...)
	args = append(args, binary, "run", "-c", s.configPath())
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start uplinkd: %v", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := api.NewClient(s.path("uplinkd.sock")).Status(); err == nil {
			return
		}
		select {
		case <-s.exited:
			s.t.Fatalf("uplinkd exited at start:\n%s", s.logTail(30))
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("uplinkd control socket not up within 15 s:\n%s", s.logTail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pid is the daemon's: `ip netns exec` and the wrappers exec in place.
func (s *solo) pid() int { return s.cmd.Process.Pid }

// kill ends the daemon with SIGKILL, as a crash would, and reaps it.
func (s *solo) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// reload sends SIGHUP: the daemon rereads its config.
func (s *solo) reload() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		s.t.Fatal(err)
	}
}

func (s *solo) status() api.Status {
	s.t.Helper()
	st, err := api.NewClient(s.path("uplinkd.sock")).Status()
	if err != nil {
		s.t.Fatalf("status: %v", err)
	}
	return st
}

// statusText is `uplinkd status` as a user reads it.
func (s *solo) statusText() string {
	s.t.Helper()
	out, err := exec.Command(binary, "status", "-c", s.configPath()).CombinedOutput()
	if err != nil {
		s.t.Fatalf("uplinkd status: %v\n%s\nlog:\n%s", err, out, s.logTail(20))
	}
	return string(out)
}

func (s *solo) log() string {
	b, _ := os.ReadFile(s.logPath())
	return string(b)
}

func (s *solo) logTail(n int) string {
	ls := strings.Split(strings.TrimRight(s.log(), "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}

// inNS runs fn on a thread inside the namespace: sockets fn opens stay
// there.
func (s *solo) inNS(fn func() error) error { return lab.InNS(s.ns, fn) }

// listen opens the feed server's socket inside the namespace.
func (s *solo) listen() net.Listener {
	s.t.Helper()
	var ln net.Listener
	if err := s.inNS(func() (err error) { ln, err = net.Listen("tcp", feedAddr); return err }); err != nil {
		s.t.Fatal(err)
	}
	return ln
}

// uplinkdRoutes dumps uplinkd's routes in the breakout table.
func (s *solo) uplinkdRoutes() []fib.Route {
	s.t.Helper()
	var h *fib.Handle
	if err := s.inNS(func() (err error) { h, err = fib.Open(); return err }); err != nil {
		s.t.Fatal(err)
	}
	defer h.Close()
	rs, err := h.Dump(boTable, config.RouteProtocol)
	if err != nil {
		s.t.Fatalf("dump table %d: %v", boTable, err)
	}
	return rs
}

// linkIndex is the index of a link in the namespace.
func (s *solo) linkIndex(name string) int {
	s.t.Helper()
	var idx int
	err := s.inNS(func() error {
		ifi, err := net.InterfaceByName(name)
		if err == nil {
			idx = ifi.Index
		}
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return idx
}

// rules lists the policy rules at the breakout priority, both families.
func (s *solo) rules() []string {
	s.t.Helper()
	var out []string
	for _, fam := range []string{"-4", "-6"} {
		b, err := exec.Command("ip", "-n", s.ns, fam, "rule", "show", "pref", strconv.Itoa(boPriority)).CombinedOutput()
		if err != nil {
			s.t.Fatalf("ip %s rule show: %v: %s", fam, err, b)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				out = append(out, fam+" "+l)
			}
		}
	}
	return out
}

// routeCount is how many routes the kernel holds in the breakout table,
// from /proc/PID/net/fib_triestat of a process in the namespace: far
// cheaper than a dump, so it can be polled during an install.
func routeCount(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/fib_triestat", pid))
	if err != nil {
		return 0, err
	}
	_, rest, ok := strings.Cut(string(b), fmt.Sprintf("Id %d:", boTable))
	if !ok {
		return 0, nil // no route yet: the kernel makes the table with its first
	}
	_, rest, ok = strings.Cut(rest, "Prefixes:")
	if !ok {
		return 0, fmt.Errorf("fib_triestat: no Prefixes line for table %d", boTable)
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return 0, fmt.Errorf("fib_triestat: empty Prefixes line")
	}
	return strconv.Atoi(f[0])
}

// slash24 is the i-th even /24 from 32.0.0.0. Even /24s never aggregate,
// so a set of them installs as many routes as it has prefixes.
func slash24(i int) netip.Prefix {
	const first = 32 << 16 // the /24 number of 32.0.0.0/24
	n := first + 2*i
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 16), byte(n >> 8), byte(n), 0}), 24)
}

// listBody is ps as a plain list feed (type url) serves it.
func listBody(ps []netip.Prefix) []byte {
	var b strings.Builder
	b.Grow(len(ps) * 14)
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// countNotIn counts the routes whose prefix want lacks.
func countNotIn(rs []fib.Route, want []netip.Prefix) int {
	in := make(map[netip.Prefix]bool, len(want))
	for _, p := range want {
		in[p] = true
	}
	n := 0
	for _, r := range rs {
		if !in[r.Prefix] {
			n++
		}
	}
	return n
}
