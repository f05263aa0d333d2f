//go:build linux

package bfd

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// wgPacket is one BFD packet inside WireGuard on the wire: 24 bytes of
// BFD, 8 UDP, 20 IP, padded to 64, 32 of WireGuard header and tag, 28 of
// outer UDP and IP.
const wgPacket = 124

// bgpFrugalGB is what BGP keepalives every 30 s cost a tunnel in 30 days:
// two sessions (IPv4, IPv6), a keepalive each way each with its ACK, in
// WireGuard: IPv4 140 + 124 bytes, IPv6 156 + 140 bytes, twice per 30 s.
const bgpFrugalGB = 2 * (140 + 124 + 156 + 140) / 30.0 * 86400 * 30 / 1e9

// carrier is two ends joined through a bridge in a third namespace, as a
// tunnel through a carrier: what a blackhole in the middle drops has been
// counted as sent by one end and is never counted as received by the
// other (a veth pair counts both at once). Namespaces ucl-*.
type carrier struct {
	nsA, nsR, nsB string
	a, r, b       netns.NsHandle
	a4, b4        netip.Addr
}

func newCarrier(t *testing.T) *carrier {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create network namespaces (ucl-*)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: iproute2 `ip` not installed")
	}
	id := fmt.Sprintf("%d-%d", os.Getpid(), labSeq.Add(1))
	c := &carrier{nsA: "ucl-a-" + id, nsR: "ucl-r-" + id, nsB: "ucl-b-" + id,
		a4: netip.MustParseAddr("198.18.17.0"), b4: netip.MustParseAddr("198.18.17.1")}
	for _, ns := range []string{c.nsA, c.nsR, c.nsB} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { runQuiet("ip", "netns", "del", ns) })
		run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	run(t, "ip", "-n", c.nsR, "link", "add", "br0", "type", "bridge")
	run(t, "ip", "-n", c.nsR, "link", "set", "br0", "up")
	for _, end := range []struct{ ns, ifname, port string }{{c.nsA, "ucl0", "ra"}, {c.nsB, "ucl1", "rb"}} {
		run(t, "ip", "-n", end.ns, "link", "add", end.ifname, "type", "veth", "peer", "name", end.port, "netns", c.nsR)
		run(t, "ip", "-n", c.nsR, "link", "set", end.port, "master", "br0", "up")
	}
	c.side(t, c.nsA, "ucl0", c.a4, c.nsB, "ucl1", c.b4)
	c.side(t, c.nsB, "ucl1", c.b4, c.nsA, "ucl0", c.a4)
	var err error
	if c.a, err = netns.GetFromName(c.nsA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.a.Close() })
	if c.r, err = netns.GetFromName(c.nsR); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.r.Close() })
	if c.b, err = netns.GetFromName(c.nsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.b.Close() })
	return c
}

// side addresses one end and pins the other's MAC, so that nothing but
// what the test sends crosses the carrier (no ARP, no IPv6).
func (c *carrier) side(t *testing.T, ns, ifname string, addr netip.Addr, peerNS, peerIf string, peer netip.Addr) {
	run(t, "ip", "-n", ns, "addr", "add", addr.String()+"/31", "dev", ifname)
	run(t, "ip", "-n", ns, "link", "set", ifname, "up")
	mac := strings.TrimSpace(run(t, "ip", "netns", "exec", peerNS, "cat", "/sys/class/net/"+peerIf+"/address"))
	run(t, "ip", "-n", ns, "neigh", "replace", peer.String(), "lladdr", mac, "dev", ifname, "nud", "permanent")
}

// blackhole drops everything the carrier forwards, or stops dropping:
// one netlink batch, so that the moment of the fault is known to a
// fraction of a millisecond (an nft command takes milliseconds).
func (c *carrier) blackhole(t *testing.T, on bool) {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(int(c.r)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLasting()
	tbl := &nftables.Table{Family: nftables.TableFamilyBridge, Name: "ucl"}
	if on {
		drop := nftables.ChainPolicyDrop
		conn.AddTable(tbl)
		conn.AddChain(&nftables.Chain{Name: "fwd_drop", Table: tbl, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	} else {
		conn.DelTable(tbl)
	}
	if err := conn.Flush(); err != nil {
		t.Fatalf("blackhole %v: %v", on, err)
	}
}

// counters reads ifname's packet and byte counters in ns.
func counters(t *testing.T, ns netns.NsHandle, ifname string) *netlink.LinkStatistics {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Statistics
}

// udpStream sends a datagram every every from one end to the other while
// on is set; the far end reads and discards them (no ICMP back).
type udpStream struct {
	on   atomic.Bool
	conn *net.UDPConn
}

func openUDP(t *testing.T, ns netns.NsHandle, local netip.Addr) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	in(t, ns, func() {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 9999)))
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := conn.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return conn
}

func (u *udpStream) run(to netip.Addr, every time.Duration, done chan struct{}) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			if u.on.Load() {
				u.conn.WriteToUDPAddrPort([]byte("uplinkd frugal test"), netip.AddrPortFrom(to, 9999))
			}
		}
	}
}

// waitLiveness waits until session k of m reports want.
func waitLiveness(t *testing.T, m *Manager, k Key, want string, timeout time.Duration) Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, st := range m.Snapshot() {
			if (Key{st.Interface, st.Peer}) == k && st.State == StateUp && st.Liveness == want && !st.PollActive {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not Up and %q within %v: %+v", k, want, timeout, m.Snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// TestFrugalCarrier runs two Managers in the frugal mode through a bridged
// carrier and measures what issue 17 asks: idle packets per second each
// way as bytes per 30 days, a blackhole under traffic both ways (Down
// within 300 ms at p99, n ≥ 10), a blackhole while idle (≤ 3 s), and a
// new flow on a tunnel that died while idle (Down within 1 s of its first
// packet). The tunnel counters are read through rtnetlink, as in the
// daemon.
func TestFrugalCarrier(t *testing.T) {
	// Mostly waiting (a 60 s hold; 15 s of idle counters): the two long
	// tests of the package overlap, in namespaces of their own.
	t.Parallel()
	c := newCarrier(t)
	recA, recB := newRecorder(), newRecorder()
	ma := NewManager(Config{Logger: testLogger(t), OnChange: recA.OnChange})
	mb := NewManager(Config{Logger: testLogger(t), OnChange: recB.OnChange})
	defer ma.Close()
	defer mb.Close()
	ca := SessionConfig{Interface: "ucl0", Local: c.a4, Peer: c.b4, Frugal: true}
	cb := SessionConfig{Interface: "ucl1", Local: c.b4, Peer: c.a4, Frugal: true}
	addIn(t, c.a, ma, ca)
	addIn(t, c.b, mb, cb)
	ka, kb := ca.Key(), cb.Key()
	// -short (make race: the sessions' goroutines under the race detector,
	// not their timing) measures less of each.
	measure, busyN, idleN, flowN := 15*time.Second, 12, 4, 6
	if testing.Short() {
		measure, busyN, idleN, flowN = 3*time.Second, 3, 2, 2
	}
	idle := func() {
		t.Helper()
		waitLiveness(t, ma, ka, "frugal idle", 10*time.Second)
		waitLiveness(t, mb, kb, "frugal idle", 10*time.Second)
	}
	idle()

	t.Run("idle cost", func(t *testing.T) {
		time.Sleep(2 * time.Second) // past any Poll of the bring-up
		s0, at := counters(t, c.a, "ucl0"), time.Now()
		time.Sleep(measure)
		s1, secs := counters(t, c.a, "ucl0"), time.Since(at).Seconds()
		ab, ba := float64(s1.TxPackets-s0.TxPackets)/secs, float64(s1.RxPackets-s0.RxPackets)/secs
		gb := (ab + ba) * wgPacket * 86400 * 30 / 1e9
		fast := 2 * 10 / 0.875 * wgPacket * 86400 * 30 / 1e9
		t.Logf("MEASURE idle liveness (BFD, frugal): a→b %.2f packets/s, b→a %.2f packets/s, %.2f GB/30d per carrier in WireGuard (%d B a packet); "+
			"with BGP keepalives at 30 s (computed, %.2f GB) %.2f GB/30d; fast 100 ms × 3 would be %.1f GB/30d of BFD alone",
			ab, ba, gb, wgPacket, bgpFrugalGB, gb+bgpFrugalGB, fast)
		if gb+bgpFrugalGB > 1 {
			t.Errorf("idle liveness costs %.2f GB/30d with BGP keepalives, want ≤ 1", gb+bgpFrugalGB)
		}
		for _, m := range []*Manager{ma, mb} {
			if st := m.Snapshot()[0]; st.Probes != 0 || st.DetectTime != 3*DefaultIdleInterval {
				t.Errorf("%s idle: %d probes, detect %v", st.Interface, st.Probes, st.DetectTime)
			}
		}
	})

	done := make(chan struct{})
	defer close(done)
	sa, sb := &udpStream{conn: openUDP(t, c.a, c.a4)}, &udpStream{conn: openUDP(t, c.b, c.b4)}
	go sa.run(c.b4, 5*time.Millisecond, done)
	go sb.run(c.a4, 5*time.Millisecond, done)

	t.Run("busy blackhole", func(t *testing.T) {
		var downs []time.Duration
		for i := range busyN {
			sa.on.Store(true)
			sb.on.Store(true)
			time.Sleep(time.Second + rand.N(500*time.Millisecond))
			recA.drain(ka)
			recB.drain(kb)
			at := time.Now()
			c.blackhole(t, true)
			for _, w := range []struct {
				rec *recorder
				k   Key
			}{{recA, ka}, {recB, kb}} {
				ch := w.rec.wait(t, w.k, StateDown, 5*time.Second)
				downs = append(downs, ch.At.Sub(at))
			}
			t.Logf("blackhole %d: a Down after %v, b after %v", i, downs[len(downs)-2].Round(time.Millisecond), downs[len(downs)-1].Round(time.Millisecond))
			sa.on.Store(false)
			sb.on.Store(false)
			c.blackhole(t, false)
			idle()
		}
		p50, p99 := quantile(downs, 0.5), quantile(downs, 0.99)
		t.Logf("MEASURE busy blackhole to BFD Down (both ends, n=%d): p50 %v p99 %v max %v",
			len(downs), p50.Round(time.Millisecond), p99.Round(time.Millisecond), slices.Max(downs).Round(time.Millisecond))
		if p99 > 300*time.Millisecond {
			t.Errorf("busy blackhole: p99 %v, want ≤ 300ms", p99)
		}
	})

	t.Run("idle blackhole", func(t *testing.T) {
		var downs []time.Duration
		for range idleN {
			idle()
			time.Sleep(rand.N(time.Second))
			recA.drain(ka)
			recB.drain(kb)
			at := time.Now()
			c.blackhole(t, true)
			for _, w := range []struct {
				rec *recorder
				k   Key
			}{{recA, ka}, {recB, kb}} {
				downs = append(downs, w.rec.wait(t, w.k, StateDown, 5*time.Second).At.Sub(at))
			}
			c.blackhole(t, false)
		}
		t.Logf("MEASURE idle blackhole to BFD Down (both ends, n=%d): p50 %v max %v",
			len(downs), quantile(downs, 0.5).Round(time.Millisecond), slices.Max(downs).Round(time.Millisecond))
		if m := slices.Max(downs); m > 3*time.Second {
			t.Errorf("idle blackhole: Down after %v, want ≤ 3s", m)
		}
	})

	t.Run("new flow on a tunnel dead while idle", func(t *testing.T) {
		var downs []time.Duration
		for range flowN {
			idle()
			recA.drain(ka)
			c.blackhole(t, true)
			time.Sleep(rand.N(1500 * time.Millisecond))
			at := time.Now()
			sa.conn.WriteToUDPAddrPort([]byte("first packet"), netip.AddrPortFrom(c.b4, 9999))
			ch := recA.wait(t, ka, StateDown, 5*time.Second)
			downs = append(downs, ch.At.Sub(at))
			c.blackhole(t, false)
		}
		t.Logf("MEASURE new flow on a tunnel dead while idle, first packet to BFD Down (n=%d): p50 %v max %v",
			len(downs), quantile(downs, 0.5).Round(time.Millisecond), slices.Max(downs).Round(time.Millisecond))
		if m := slices.Max(downs); m > time.Second {
			t.Errorf("new flow: Down %v after its first packet, want ≤ 1s", m)
		}
	})
}
