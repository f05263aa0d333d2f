//go:build linux

package bfd

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"
)

// lab is two namespaces joined by a veth pair, like the two ends of a
// tunnel: ub0 in a, ub1 in b, on a /31 and a /64 from the test ranges.
type lab struct {
	nsA, nsB string
	a, b     netns.NsHandle
	a4, b4   netip.Addr
	a6, b6   netip.Addr
	ifA, ifB string
}

var labSeq atomic.Int32

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create network namespaces (ubf-*) and veth pairs")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: iproute2 `ip` not installed")
	}
	id := fmt.Sprintf("%d-%d", os.Getpid(), labSeq.Add(1))
	l := &lab{
		nsA: "ubf-a-" + id, nsB: "ubf-b-" + id, ifA: "ub0", ifB: "ub1",
		a4: netip.MustParseAddr("198.18.7.0"), b4: netip.MustParseAddr("198.18.7.1"),
		a6: netip.MustParseAddr("2001:db8:7::1"), b6: netip.MustParseAddr("2001:db8:7::2"),
	}
	for _, ns := range []string{l.nsA, l.nsB} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { runQuiet("ip", "netns", "del", ns) })
	}
	// Both ends are created inside the lab namespaces; nothing is ever in
	// the machine's own namespace.
	run(t, "ip", "-n", l.nsA, "link", "add", l.ifA, "type", "veth", "peer", "name", l.ifB, "netns", l.nsB)
	l.side(t, l.nsA, l.ifA, l.a4, l.a6)
	l.side(t, l.nsB, l.ifB, l.b4, l.b6)
	var err error
	if l.a, err = netns.GetFromName(l.nsA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.a.Close() })
	if l.b, err = netns.GetFromName(l.nsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.b.Close() })
	return l
}

func (l *lab) side(t *testing.T, ns, ifname string, a4, a6 netip.Addr) {
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	run(t, "ip", "-n", ns, "addr", "add", a4.String()+"/31", "dev", ifname)
	run(t, "ip", "-n", ns, "-6", "addr", "add", a6.String()+"/64", "dev", ifname, "nodad")
	// Keep the IPv6 address across link down, as a tunnel's configured
	// address would be re-added; otherwise the v6 session cannot recover.
	run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf."+ifname+".keep_addr_on_down=1")
	run(t, "ip", "-n", ns, "link", "set", ifname, "up")
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func runQuiet(args ...string) { _ = exec.Command(args[0], args[1:]...).Run() }

// in runs fn on a thread switched into ns; sockets opened by fn stay in ns
// after the thread switches back.
func in(t *testing.T, ns netns.NsHandle, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with the goroutine
			// instead of running others in the wrong namespace.
			t.Errorf("restore namespace: %v", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// addIn adds a session from inside ns.
func addIn(t *testing.T, ns netns.NsHandle, m *Manager, c SessionConfig) {
	t.Helper()
	in(t, ns, func() {
		if _, err := m.Add(c); err != nil {
			t.Fatalf("Add(%s): %v", c.Key(), err)
		}
	})
}
