package inbound

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// hubDesired publishes TCP 8443 to the home server's 443, UDP 5353 as is,
// and TCP 2222 only from 198.51.100.0/24.
func hubDesired() Desired {
	to := netip.MustParseAddrPort
	return Desired{Public: "pub", Protect: []netip.Prefix{netip.MustParsePrefix("198.18.10.0/24"), netip.MustParsePrefix("2001:db8:10::/64")},
		Publish: []config.Publish{
			{Name: "https", Protocol: "tcp", Port: 8443, PortEnd: 8443, To: to("198.18.10.2:443")},
			{Name: "dns", Protocol: "udp", Port: 5353, PortEnd: 5353, To: to("198.18.10.2:0")},
			{Name: "ssh", Protocol: "tcp", Port: 2222, PortEnd: 2222, To: to("198.18.10.2:22"), Allow: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
		}}
}

// TestHubInbound: from the public side a published port reaches the home
// server, which sees the client's own address; an unpublished one, a
// ping, and a published port from outside its allowed sources do not. A
// flushed ruleset is put back by the next Apply.
func TestHubInbound(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	// This namespace is the hub: "pub" faces the client, "lan" the home.
	client, home := fmt.Sprintf("uib-c-%d", os.Getpid()), fmt.Sprintf("uib-h-%d", os.Getpid())
	run(t, "ip", "netns", "add", client)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", client).Run() })
	run(t, "ip", "netns", "add", home)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", home).Run() })
	for _, c := range []string{
		"ip link set lo up",
		"ip link add pub type veth peer name eth0 netns " + client,
		"ip link add lan type veth peer name eth0 netns " + home,
		"ip addr add 203.0.113.9/24 dev pub", "ip link set pub up",
		"ip addr add 198.18.10.1/24 dev lan", "ip link set lan up",
		"sysctl -qw net.ipv4.ip_forward=1",
		"ip netns exec " + client + " ip addr add 203.0.113.11/24 dev eth0",
		"ip netns exec " + client + " ip link set eth0 up",
		"ip netns exec " + client + " ip route add 198.18.10.0/24 via 203.0.113.9",
		"ip netns exec " + home + " ip addr add 198.18.10.2/24 dev eth0",
		"ip netns exec " + home + " ip link set eth0 up",
		"ip netns exec " + home + " ip route add default via 198.18.10.1",
	} {
		run(t, strings.Fields(c)...)
	}
	// Before: the hub forwards anything into the home (the finding).
	if !ping(client, "198.18.10.2") {
		t.Fatal("setup: the client cannot reach the home at all")
	}
	changed, err := Apply(hubDesired())
	if err != nil || !changed {
		t.Fatalf("Apply: changed %v, %v", changed, err)
	}
	if changed, err := Apply(hubDesired()); err != nil || changed {
		t.Fatalf("second Apply: changed %v, %v", changed, err)
	}
	if ping(client, "198.18.10.2") {
		t.Error("ping from the public side reaches the home LAN")
	}
	seen := serveTCP(t, home, "198.18.10.2:443")
	if got, err := dialTCP(client, "203.0.113.9:8443"); err != nil {
		t.Errorf("published tcp 8443: %v", err)
	} else if s := <-seen; s != "203.0.113.11" {
		t.Errorf("home server saw %s, want the client's own 203.0.113.11 (%s)", s, got)
	}
	// The UDP service keeps its port (no port in to): the home server
	// gets the datagram on 5353, from the client's own address.
	if got := udpExchange(t, client, home, "203.0.113.9:5353", "198.18.10.2:5353"); got != "203.0.113.11" {
		t.Errorf("published udp 5353: the home server saw %q, want 203.0.113.11 on its port 5353", got)
	}
	serveTCP(t, home, "198.18.10.2:22")
	if _, err := dialTCP(client, "203.0.113.9:2222"); err == nil {
		t.Error("tcp 2222 from outside its allowed sources reached the home")
	}
	serveTCP(t, home, "198.18.10.2:80")
	if _, err := dialTCP(client, "198.18.10.2:80"); err == nil {
		t.Error("an unpublished port of the home is reachable through the hub")
	}

	counts, err := ReadCounts()
	if err != nil {
		t.Fatal(err)
	}
	if counts.Connections["https"] != 1 || counts.Connections["dns"] != 1 || counts.Dropped == 0 {
		t.Errorf("counters: %+v; want one https and one dns connection, some drops", counts)
	}

	// A firewall reload flushes everything; the next reconcile repairs.
	run(t, "nft", "flush", "ruleset")
	if !ping(client, "198.18.10.2") {
		t.Fatal("after the flush the home should be open again (the bug being repaired)")
	}
	if changed, err := Apply(hubDesired()); err != nil || !changed {
		t.Fatalf("Apply after a flush: changed %v, %v", changed, err)
	}
	if ping(client, "198.18.10.2") {
		t.Error("after repair, ping still reaches the home")
	}
	if err := Remove(); err != nil {
		t.Fatal(err)
	}
	if out := runOut(t, "nft", "list", "tables"); strings.Contains(out, TableName) {
		t.Errorf("table left after Remove:\n%s", out)
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func runOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func ping(ns, addr string) bool {
	return exec.Command("ip", "netns", "exec", ns, "ping", "-c1", "-W1", addr).Run() == nil
}

// inNS runs f on a thread switched into the named namespace, so that the
// sockets f opens live there.
func inNS(ns string, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return err
	}
	defer netns.Set(orig)
	return f()
}

// serveTCP accepts connections at addr in ns and sends the address each
// client came from.
func serveTCP(t *testing.T, ns, addr string) <-chan string {
	t.Helper()
	var ln net.Listener
	if err := inNS(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	seen := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			seen <- ap.Addr().Unmap().String()
			c.Close()
		}
	}()
	return seen
}

func dialTCP(ns, addr string) (string, error) {
	var local string
	err := inNS(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		local = c.LocalAddr().String()
		return nil
	})
	return local, err
}

// TestTableReadsBack: nft(8) decodes every rule the package writes (the
// exprs are ones the kernel and the standard tools agree on), for both
// roles.
func TestTableReadsBack(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (apt-get install --no-install-recommends nftables)")
	}
	run(t, "ip", "link", "set", "lo", "up")
	edge := Desired{Publish: hubDesired().Publish, Return: true,
		Hubs: []HubTunnels{{Hub: "tokyo", Mark: 0x6201, Interfaces: []string{"wg-a", "wg-b"}}, {Hub: "osaka", Mark: 0x6202, Interfaces: []string{"wg-c"}}}}
	for name, d := range map[string]Desired{"hub": hubDesired(), "edge": edge} {
		if _, err := Apply(d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := runOut(t, "nft", "list", "table", "inet", TableName)
		want := map[string][]string{
			"hub": {`iifname "pub" meta nfproto ipv4 tcp dport 8443-8443`, `dnat ip to 198.18.10.2:443`,
				`ip saddr 198.51.100.0/24`, `ct status dnat accept`, `ip daddr 198.18.10.0/24`, `ip6 daddr 2001:db8:10::/64`},
			"edge": {`iifname "wg-a" ct state new ct mark set 0x00006201`, `ct direction reply ct mark 0x00006202 meta mark set 0x00006202`,
				`ct state new ct mark 0x00006200/24 tcp dport 443-443 ip daddr 198.18.10.2`, `ct state new ct mark 0x00006200/24 counter packets 0 bytes 0 drop`},
		}[name]
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: nft list lacks %q:\n%s", name, w, out)
			}
		}
		if changed, err := Apply(d); err != nil || changed {
			t.Errorf("%s: second Apply changed %v, %v", name, changed, err)
		}
	}
}

// udpExchange listens on serve in ns home, sends one datagram from ns
// client to dst and returns the address the server saw it from ("" if
// nothing arrived).
func udpExchange(t *testing.T, client, home, dst, serve string) string {
	t.Helper()
	var pc net.PacketConn
	if err := inNS(home, func() (err error) { pc, err = net.ListenPacket("udp", serve); return }); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var c net.Conn
	if err := inNS(client, func() (err error) { c, err = net.Dial("udp", dst); return }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("who"))
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 16)
	_, from, err := pc.ReadFrom(buf)
	if err != nil {
		return ""
	}
	ap, _ := netip.ParseAddrPort(from.String())
	return ap.Addr().Unmap().String()
}
