package engine

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/fetch"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// Addresses of the test network, inside the namespace nstest made:
// ue-gw0 (198.51.100.1, 2001:db8:51::1) faces the breakout gateway
// (198.51.100.2, 2001:db8:51::2) in an anonymous namespace; ue-hub0
// (203.0.113.1) carries the main table's default route, standing for the
// tunnels to the hub.
var (
	gateway  = netip.MustParseAddr("198.51.100.2")
	gateway6 = netip.MustParseAddr("2001:db8:51::2")
	hubGW    = netip.MustParseAddr("203.0.113.2")
)

// testNet is the network around the engine under test.
type testNet struct {
	gwNS   netns.NsHandle  // the gateway's namespace
	gwNL   *netlink.Handle // bound to gwNS
	gwLink string          // the gateway's end of ue-gw0
}

// setupNet builds the test network in the current (nstest) namespace.
func setupNet(t *testing.T) *testNet {
	t.Helper()
	up(t, "lo")
	n := &testNet{gwNS: newAnonNS(t), gwLink: "ue-gw1"}
	var err error
	if n.gwNL, err = netlink.NewHandleAt(n.gwNS); err != nil {
		t.Fatalf("netlink in gateway namespace: %v", err)
	}
	t.Cleanup(func() { n.gwNL.Close(); n.gwNS.Close() })
	vethTo(t, n, "ue-gw0", "ue-gw1", []string{"198.51.100.1/24", "2001:db8:51::1/64"}, []string{"198.51.100.2/24", "2001:db8:51::2/64"})
	vethTo(t, n, "ue-hub0", "ue-hub1", []string{"203.0.113.1/24"}, nil)
	l, _ := netlink.LinkByName("ue-hub0")
	err = netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.IP(hubGW.AsSlice())})
	if err != nil {
		t.Fatalf("default route: %v", err)
	}
	return n
}

// newAnonNS makes a namespace with no name: it vanishes with its last
// handle, leaving nothing behind.
func newAnonNS(t *testing.T) netns.NsHandle {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("current namespace: %v", err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("new namespace: %v", err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatalf("back to namespace: %v", err)
	}
	return ns
}

// vethTo creates a veth pair whose peer lives in the gateway namespace.
func vethTo(t *testing.T, n *testNet, local, peer string, laddrs, paddrs []string) {
	t.Helper()
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: local}, PeerName: peer}); err != nil {
		t.Fatalf("add veth %s: %v", local, err)
	}
	p, err := netlink.LinkByName(peer)
	if err == nil {
		err = netlink.LinkSetNsFd(p, int(n.gwNS))
	}
	if err != nil {
		t.Fatalf("move %s: %v", peer, err)
	}
	addrs(t, &netlink.Handle{}, local, laddrs)
	addrs(t, n.gwNL, peer, paddrs)
	up(t, local)
	if err := n.gwNL.LinkSetUp(mustLink(t, n.gwNL, peer)); err != nil {
		t.Fatalf("up %s: %v", peer, err)
	}
}

func addrs(t *testing.T, h *netlink.Handle, link string, as []string) {
	t.Helper()
	l := mustLink(t, h, link)
	for _, a := range as {
		ad, err := netlink.ParseAddr(a)
		if err == nil {
			ad.Flags = unix.IFA_F_NODAD // usable at once
			err = h.AddrAdd(l, ad)
		}
		if err != nil {
			t.Fatalf("address %s on %s: %v", a, link, err)
		}
	}
}

func mustLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s: %v", name, err)
	}
	return l
}

func up(t *testing.T, name string) {
	t.Helper()
	if err := netlink.LinkSetUp(mustLink(t, &netlink.Handle{}, name)); err != nil {
		t.Fatalf("up %s: %v", name, err)
	}
}

// setGateway takes the gateway's link down or up, as a dead 5G router would.
func (n *testNet) setGateway(t *testing.T, alive bool) {
	t.Helper()
	l := mustLink(t, n.gwNL, n.gwLink)
	f := n.gwNL.LinkSetDown
	if alive {
		f = n.gwNL.LinkSetUp
	}
	if err := f(l); err != nil {
		t.Fatalf("gateway link alive=%v: %v", alive, err)
	}
}

// feedServer serves a body, or misbehaves as mode says.
type feedServer struct {
	*httptest.Server
	mu   sync.Mutex
	mode string
	body []byte
}

func newFeedServer(t *testing.T, body []byte) *feedServer {
	s := &feedServer{mode: "ok", body: body}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *feedServer) set(mode string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = mode
	if body != nil {
		s.body = body
	}
}

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode, body := s.mode, s.body
	s.mu.Unlock()
	switch mode {
	case "ok":
		w.Write(body)
	case "500":
		http.Error(w, "boom", http.StatusInternalServerError)
	case "empty":
	case "truncated":
		w.Write(body[:len(body)/3])
	case "huge": // 50 MB without Content-Length
		chunk := []byte(strings.Repeat(" ", 1<<20))
		for range 50 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case "hang":
		<-r.Context().Done()
	}
}

// basePlan is a Plan for the test network; health probing is off unless a
// test turns it on.
func basePlan(t *testing.T, dir string) Plan {
	return Plan{
		Gateway:  gateway,
		StateDir: dir,
		Guards: breakout.Guards{
			Protected: []breakout.Protected{
				{Prefix: netip.MustParsePrefix("198.51.100.2/32"), Label: "breakout gateway"},
				{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Label: "lan"},
				{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Label: "hub"},
				{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Label: "loopback"},
			},
			MinBits4: 8,
			MinBits6: 16,
		},
		Health:  Health{Disabled: true},
		Fetcher: &fetch.Fetcher{Timeout: time.Second},
	}
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("ENGINE_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startEngine(t *testing.T, p Plan) *Engine {
	t.Helper()
	e, err := Start(context.Background(), p, testLog(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return e
}

// dumpTable reads the engine's routes back from the kernel.
func dumpTable(t *testing.T, table uint32) []netip.Prefix {
	t.Helper()
	h, err := fib.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rs, err := h.Dump(table, proto)
	if err != nil {
		t.Fatalf("dump table %d: %v", table, err)
	}
	return routePrefixes(rs)
}

// routeGet asks the kernel where a would go; it sends nothing.
func routeGet(t *testing.T, a netip.Addr) string {
	t.Helper()
	out, err := exec.Command("ip", "route", "get", a.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("ip route get %s: %v: %s", a, err, out)
	}
	return strings.TrimSpace(string(out))
}

// ruleList shows the rules at a priority, both families.
func ruleList(t *testing.T, prio string) string {
	t.Helper()
	var b strings.Builder
	for _, fam := range []string{"-4", "-6"} {
		out, err := exec.Command("ip", fam, "rule", "list", "pref", prio).CombinedOutput()
		if err != nil {
			t.Fatalf("ip rule list: %v: %s", err, out)
		}
		b.Write(out)
	}
	return strings.TrimSpace(b.String())
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func samePrefixes(a, b []netip.Prefix) bool {
	return slices.Equal(breakout.SortPrefixes(slices.Clone(a)), breakout.SortPrefixes(slices.Clone(b)))
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}
