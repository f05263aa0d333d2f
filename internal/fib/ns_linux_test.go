package fib

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// testNS is a fresh, named network namespace with a Handle and a
// vishvananda/netlink handle bound to it, and three veth uplinks.
type testNS struct {
	name string
	h    *Handle
	nl   *netlink.Handle
	// links[i] is the ifindex of uplink i; gateways are gw4(i) and gw6(i).
	links []int
}

func gw4(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 211, byte(i), 2}) }
func gw6(i int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:f1b:%d::2", i))
}

// newNS creates a namespace named uf-…, opens sockets in it and returns to
// the original namespace; t.Cleanup deletes it and checks it is gone.
func newNS(t testing.TB, uplinks int) *testNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("kernel test: needs root to create a network namespace (run as root)")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	ns := &testNS{name: "uf-" + hex.EncodeToString(rnd[:])}
	t.Cleanup(func() { assertNSGone(t, ns.name) })
	enterAndOpen(t, ns)
	t.Cleanup(func() {
		ns.h.Close()
		ns.nl.Close()
		if err := netns.DeleteNamed(ns.name); err != nil {
			t.Errorf("delete namespace %s: %v", ns.name, err)
		}
	})
	// Blackhole nexthop objects hang off lo, which starts down in a new namespace.
	lo, err := ns.nl.LinkByName("lo")
	if err == nil {
		err = ns.nl.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("set lo up: %v", err)
	}
	for i := range uplinks {
		ns.links = append(ns.links, ns.addUplink(t, i))
	}
	return ns
}

// enterAndOpen switches this thread into a new namespace just long enough to
// open sockets there: a netlink socket stays bound to its namespace.
func enterAndOpen(t testing.TB, ns *testNS) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("get current namespace: %v", err)
	}
	defer orig.Close()
	newns, err := netns.NewNamed(ns.name)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("create namespace %s: %v", ns.name, err)
	}
	newns.Close()
	h, errH := Open()
	nl, errN := netlink.NewHandle()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with the goroutine instead of
		// running other code in the wrong namespace.
		t.Fatalf("return to original namespace: %v", err)
	}
	runtime.UnlockOSThread()
	if errH != nil || errN != nil {
		_ = netns.DeleteNamed(ns.name)
		t.Fatalf("open sockets in %s: %v %v", ns.name, errH, errN)
	}
	ns.h, ns.nl = h, nl
}

// addUplink makes veth upI (peer upIp), up, with 10.211.I.1/24 and
// 2001:db8:f1b:I::1/64, so gw4(I) and gw6(I) are on-link gateways.
func (ns *testNS) addUplink(t testing.TB, i int) int {
	t.Helper()
	name := fmt.Sprintf("up%d", i)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}
	if err := ns.nl.LinkAdd(veth); err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
	for _, n := range []string{name, name + "p"} {
		l, err := ns.nl.LinkByName(n)
		if err != nil {
			t.Fatalf("link %s: %v", n, err)
		}
		if err := ns.nl.LinkSetUp(l); err != nil {
			t.Fatalf("set %s up: %v", n, err)
		}
	}
	l, _ := ns.nl.LinkByName(name)
	for _, a := range []string{fmt.Sprintf("10.211.%d.1/24", i), fmt.Sprintf("2001:db8:f1b:%d::1/64", i)} {
		addr, _ := netlink.ParseAddr(a)
		addr.Flags = 0x02 // IFA_F_NODAD: the address is usable at once
		if err := ns.nl.AddrAdd(l, addr); err != nil {
			t.Fatalf("address %s on %s: %v", a, name, err)
		}
	}
	return l.Attrs().Index
}

// ip runs ip(8) in the namespace, as a user would.
func (ns *testNS) ip(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns.name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// lines counts non-empty lines.
func lines(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

// assertNSGone is the leak check: the namespace's bind mount must be gone.
func assertNSGone(t testing.TB, name string) {
	if _, err := os.Stat("/var/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("namespace %s leaked (stat: %v)", name, err)
	}
}
