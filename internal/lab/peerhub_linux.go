package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A peer hub is the lab's VPS run not by uplinkd but by what a user may
// already have there: Debian's wireguard-go and `wg` for the three tunnels,
// and FRR (zebra, bgpd, bfdd) or BIRD 2 for BGP and BFD. The edge's config
// is the same as against an uplinkd hub: that is the point.

// Binaries of the peer hubs, as Debian's packages install them.
const (
	wireguardGo = "wireguard-go"
	frrZebra    = "/usr/lib/frr/zebra"
	frrBGPD     = "/usr/lib/frr/bgpd"
	frrBFDD     = "/usr/lib/frr/bfdd"
	birdBin     = "bird"
)

// PeerHubMissing says which package a peer hub needs and lacks, "" when
// everything is installed (tests skip with it, the lab command refuses).
func PeerHubMissing(daemon string) string {
	need := map[string][]string{
		HubFRR:  {wireguardGo, "wg", frrZebra, frrBGPD, frrBFDD, "vtysh"},
		HubBIRD: {wireguardGo, "wg", birdBin, "birdc"},
	}[daemon]
	for _, bin := range need {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("%s not found: apt-get install -y --no-install-recommends wireguard-go wireguard-tools %s",
				bin, map[string]string{HubFRR: "frr", HubBIRD: "bird2"}[daemon])
		}
	}
	return ""
}

// peerDir holds a peer hub's configs, sockets, pid files and logs.
func (l *Lab) peerDir() string { return filepath.Join(l.Dir, "hub-"+l.HubDaemon) }

// PeerLog is the log of one of the peer hub's processes (zebra, bgpd,
// bfdd, bird, wg-docomo...).
func (l *Lab) PeerLog(proc string) string { return filepath.Join(l.peerDir(), proc+".log") }

// startPeerHub brings the hub's tunnels up with wireguard-go and wg, gives
// the hub the masquerade uplinkd would, and starts FRR or BIRD.
func (l *Lab) startPeerHub() error {
	if why := PeerHubMissing(l.HubDaemon); why != "" {
		return errors.New(why)
	}
	if err := os.MkdirAll(l.peerDir(), 0o755); err != nil {
		return err
	}
	// Later commands (status, down) read what runs the hub from here.
	if err := os.WriteFile(filepath.Join(l.Dir, hubDaemonFile), []byte(l.HubDaemon+"\n"), 0o644); err != nil {
		return err
	}
	edgeKey, err := pubKeyOf(l.keyPath("edge"))
	if err != nil {
		return err
	}
	for i, c := range Carriers {
		if err := l.peerTunnel(i, c, edgeKey); err != nil {
			return fmt.Errorf("tunnel %s: %w", l.HubTunnel(c), err)
		}
	}
	if err := masquerade(l.NS("hub"), "eth0"); err != nil {
		return err
	}
	if l.HubDaemon == HubBIRD {
		return l.startBIRD()
	}
	return l.startFRR()
}

// peerTunnel is one carrier's tunnel at the hub, as wg-quick would make
// it: wireguard-go, then `wg set`, the addresses, up.
func (l *Lab) peerTunnel(i int, carrier, edgeKey string) error {
	ifname := l.HubTunnel(carrier)
	if err := l.spawn("wg-"+carrier, wireguardGo, "-f", ifname); err != nil {
		return err
	}
	if err := waitPath(filepath.Join("/var/run/wireguard", ifname+".sock"), 5*time.Second); err != nil {
		return err
	}
	ns := l.NS("hub")
	if err := run("ip", "netns", "exec", ns, "wg", "set", ifname, "private-key", l.keyPath("hub"),
		"listen-port", strconv.Itoa(HubPort(i)), "peer", edgeKey, "allowed-ips", "0.0.0.0/0,::/0"); err != nil {
		return err
	}
	// The edge's tunnel MTU (uplinkd's default), not wireguard-go's 1420.
	if err := run("ip", "-n", ns, "link", "set", ifname, "mtu", "1380"); err != nil {
		return err
	}
	hub4, _, hub6, _ := TunnelAddrs(i)
	return addrUp(ns, ifname, []string{hub4 + "/31", hub6 + "/127"})
}

// spawn starts a peer hub process in the hub's namespace, detached like
// the daemons, its output in its own log and its pid in a file.
func (l *Lab) spawn(name, bin string, args ...string) error {
	logf, err := os.OpenFile(l.PeerLog(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.NS("hub"), bin}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	go cmd.Wait()
	return os.WriteFile(filepath.Join(l.peerDir(), name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

// stopPeerHub ends every process of the peer hub (SIGTERM, then what is
// left with SIGKILL); deleting the namespace would too, but a hub's
// restart in a test keeps the namespace.
func (l *Lab) stopPeerHub() error {
	pids, _ := filepath.Glob(filepath.Join(l.Dir, "hub-*", "*.pid"))
	var alive []int
	for _, p := range pids {
		b, err := os.ReadFile(p)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 1 && syscall.Kill(pid, syscall.SIGTERM) == nil {
			alive = append(alive, pid)
		}
		os.Remove(p)
	}
	for range 100 {
		n := 0
		for _, pid := range alive {
			if syscall.Kill(pid, 0) == nil {
				n++
			}
		}
		if n == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range alive {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return nil
}

// HubEndpoints is what a peer hub's WireGuard sees as each carrier's
// endpoint (`wg show`), by carrier.
func (l *Lab) HubEndpoints() map[string]string {
	eps := map[string]string{}
	for _, c := range Carriers {
		out, err := exec.Command("ip", "netns", "exec", l.NS("hub"), "wg", "show", l.HubTunnel(c), "endpoints").Output()
		if f := strings.Fields(string(out)); err == nil && len(f) == 2 {
			eps[c] = f[1]
		}
	}
	return eps
}

// pubKeyOf is the WireGuard public key of a private key file.
func pubKeyOf(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	cmd := exec.Command("wg", "pubkey")
	cmd.Stdin = strings.NewReader(string(b))
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("wg pubkey: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func waitPath(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not appear within %s", path, limit)
}

// frrUser is the uid and gid FRR's daemons drop to; they must own the
// directory of their sockets.
func frrUser() (uid, gid int, err error) {
	u, err := user.Lookup("frr")
	if err != nil {
		return 0, 0, fmt.Errorf("no frr user (%w): the frr package creates it", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// startFRR writes zebra's, bgpd's and bfdd's configs and starts them,
// each waiting for the one before.
func (l *Lab) startFRR() error {
	dir := l.peerDir()
	uid, gid, err := frrUser()
	if err != nil {
		return err
	}
	for name, text := range map[string]string{"zebra.conf": "", "bgpd.conf": frrBGPConf(), "bfdd.conf": frrBFDConf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return err
	}
	zserv := filepath.Join(dir, "zserv.api")
	common := []string{"-z", zserv, "--vty_socket", dir, "-u", "frr", "-g", "frr", "--log", "stdout", "--log-level", "info"}
	for _, d := range []struct {
		name, bin string
		extra     []string
		ready     string
	}{
		{"zebra", frrZebra, nil, zserv},
		{"bfdd", frrBFDD, []string{"--bfdctl", filepath.Join(dir, "bfdd.sock")}, filepath.Join(dir, "bfdd.vty")},
		{"bgpd", frrBGPD, nil, filepath.Join(dir, "bgpd.vty")},
	} {
		args := append([]string{"-f", filepath.Join(dir, d.name+".conf"), "-i", filepath.Join(dir, d.name+".pid.frr")}, common...)
		if err := l.spawn(d.name, d.bin, append(args, d.extra...)...); err != nil {
			return err
		}
		if err := waitPath(d.ready, 10*time.Second); err != nil {
			return fmt.Errorf("%s: %w; its log %s ends:\n%s", d.name, err, l.PeerLog(d.name), Tail(l.PeerLog(d.name), 10))
		}
	}
	return nil
}

// Vtysh runs FRR commands on the lab's FRR hub.
func (l *Lab) Vtysh(cmds ...string) (string, error) {
	args := []string{"netns", "exec", l.NS("hub"), "vtysh", "--vty_socket", l.peerDir()}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("vtysh %s: %v: %s", strings.Join(cmds, "; "), err, out)
	}
	return string(out), nil
}

// frrBFDConf is the BFD profile of the FRR hub: 100 ms each way,
// multiplier 3, like uplinkd's own.
const frrBFDConf = `bfd
 profile fast
  transmit-interval 100
  receive-interval 100
  detect-multiplier 3
 !
!
`

// frrBGPConf is the hub's bgpd: an eBGP session per tunnel and family
// without GTSM (with "ttl-security hops 1" FRR 8.4 runs the peer's BFD as
// multihop, which uplinkd's single-hop BFD never answers: the edge says
// ttl_security = false instead), BFD on the IPv4 ones (uplinkd runs BFD on IPv4 only), the
// default route sent (default-originate; nothing else: to-home denies
// all), only the home's LAN accepted, ECMP towards it. "timers connect 1":
// FRR's connect retry is 120 s, too long for a tunnel that comes back.
func frrBGPConf() string {
	var b strings.Builder
	fmt.Fprintf(&b, `hostname lab-hub
!
ip prefix-list home seq 5 permit %s
ipv6 prefix-list home6 seq 5 permit %s
route-map from-home permit 10
 match ip address prefix-list home
!
route-map from-home6 permit 10
 match ipv6 address prefix-list home6
!
route-map to-home deny 10
!
router bgp %d
 bgp router-id %s
 no bgp default ipv4-unicast
 timers bgp 10 30
`, LANPrefix, LANPrefix6, hubASN("hub"), HubPublic)
	var v4, v6 []string
	for i := range Carriers {
		_, edge4, _, edge6 := TunnelAddrs(i)
		v4, v6 = append(v4, edge4), append(v6, edge6)
	}
	for i, n := range append(append([]string{}, v4...), v6...) {
		fmt.Fprintf(&b, " neighbor %s remote-as 64512\n neighbor %s timers connect 1\n", n, n)
		if i < len(v4) {
			fmt.Fprintf(&b, " neighbor %s bfd profile fast\n", n)
		}
	}
	for _, af := range []struct {
		name, rmap string
		peers      []string
	}{{"ipv4", "from-home", v4}, {"ipv6", "from-home6", v6}} {
		fmt.Fprintf(&b, " address-family %s unicast\n  maximum-paths 8\n", af.name)
		for _, n := range af.peers {
			fmt.Fprintf(&b, "  neighbor %s activate\n  neighbor %s default-originate\n  neighbor %s route-map %s in\n  neighbor %s route-map to-home out\n", n, n, n, af.rmap, n)
		}
		b.WriteString(" exit-address-family\n")
	}
	b.WriteString("!\n")
	return b.String()
}

// startBIRD writes BIRD's config and starts it.
func (l *Lab) startBIRD() error {
	conf := filepath.Join(l.peerDir(), "bird.conf")
	if err := os.WriteFile(conf, []byte(birdConf(l)), 0o644); err != nil {
		return err
	}
	sock := filepath.Join(l.peerDir(), "bird.ctl")
	if err := l.spawn("bird", birdBin, "-f", "-c", conf, "-s", sock); err != nil {
		return err
	}
	if err := waitPath(sock, 10*time.Second); err != nil {
		return fmt.Errorf("bird: %w; its log %s ends:\n%s", err, l.PeerLog("bird"), Tail(l.PeerLog("bird"), 10))
	}
	return nil
}

// Birdc runs a BIRD command on the lab's BIRD hub.
func (l *Lab) Birdc(args ...string) (string, error) {
	out, err := exec.Command("birdc", append([]string{"-s", filepath.Join(l.peerDir(), "bird.ctl")}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("birdc %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// birdConf is the BIRD 2 hub: what issue 14 found a BIRD hub needs to
// work with uplinkd. "ttl security on" (uplinkd runs GTSM; BIRD sends TTL 1
// by default and every segment is dropped), "error wait time" lowered
// (BIRD waits 60 s after an error before it reconnects), BFD 100 ms × 3 on
// the IPv4 sessions only, ECMP to the LAN ("merge paths"), the default
// route sent with next hop self, only the home's LAN accepted.
func birdConf(l *Lab) string {
	var b strings.Builder
	fmt.Fprintf(&b, `router id %s;
log stderr all;
protocol device { scan time 2; }
protocol kernel kernel4 {
	ipv4 { export where source = RTS_BGP; };
	merge paths on limit 8;
}
protocol kernel kernel6 {
	ipv6 { export where source = RTS_BGP; };
	merge paths on limit 8;
}
protocol static default4 { ipv4; route 0.0.0.0/0 via 203.0.113.8; }
protocol static default6 { ipv6; route ::/0 via 2001:db8:ff:9::1; }
protocol bfd {
	interface "%s*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
}
template bgp edge {
	local as %d;
	ttl security on;
	error wait time 1, 10;
	connect retry time 1;
	hold time 30;
}
`, HubPublic, l.HubTunnel(""), hubASN("hub"))
	for i := range Carriers {
		hub4, edge4, hub6, edge6 := TunnelAddrs(i)
		fmt.Fprintf(&b, `protocol bgp %[1]s4 from edge {
	neighbor %[2]s as 64512; source address %[3]s; bfd on;
	ipv4 { import where net = %[6]s; export where net = 0.0.0.0/0; next hop self; };
}
protocol bgp %[1]s6 from edge {
	neighbor %[4]s as 64512; source address %[5]s;
	ipv6 { import where net = %[7]s; export where net = ::/0; next hop self; };
}
`, Carriers[i], edge4, hub4, edge6, hub6, LANPrefix, LANPrefix6)
	}
	return b.String()
}
