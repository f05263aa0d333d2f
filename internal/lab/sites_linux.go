package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// ConfigPath, Socket and LogPath locate a lab site's ("edge" or "hub")
// files in the lab directory.
func (l *Lab) ConfigPath(site string) string { return filepath.Join(l.Dir, site+".toml") }

// Socket is a site's control socket.
func (l *Lab) Socket(site string) string { return filepath.Join(l.Dir, site+".sock") }

// LogPath is where a site's daemon writes its log.
func (l *Lab) LogPath(site string) string { return filepath.Join(l.Dir, site+".log") }

func (l *Lab) pidPath(site string) string { return filepath.Join(l.Dir, site+".pid") }
func (l *Lab) keyPath(site string) string { return filepath.Join(l.Dir, site+".key") }

// siteNS is the namespace a site's daemon runs in.
func (l *Lab) siteNS(site string) string {
	switch site {
	case "edge":
		return l.NS("home")
	case "hub2":
		return l.NS("hub2")
	case "edge2":
		return l.NS("home2")
	}
	return l.NS("hub")
}

// writeSites makes a key pair per site and writes both configs.
func (l *Lab) writeSites() error {
	pub := map[string]string{}
	for _, site := range l.Sites() {
		k, err := wg.GenKey()
		if err != nil {
			return err
		}
		if err := os.WriteFile(l.keyPath(site), []byte(k+"\n"), 0o600); err != nil {
			return err
		}
		if pub[site], err = wg.PubKey(k); err != nil {
			return err
		}
	}
	if err := os.WriteFile(l.ConfigPath("edge"), []byte(l.edgeConfig(pub)), 0o644); err != nil {
		return err
	}
	for _, site := range l.HubSites() {
		if l.PeerHub() {
			break // its configs are written as it starts
		}
		if err := os.WriteFile(l.ConfigPath(site), []byte(l.hubConfig(site, pub)), 0o644); err != nil {
			return err
		}
	}
	if l.SecondEdge {
		return os.WriteFile(l.ConfigPath("edge2"), []byte(l.edge2Config(pub["hub"])), 0o644)
	}
	return nil
}

// edge2Config is the second home: one fibre line, one tunnel to the first
// hub, its own LAN announced and, as a mistake or an attack, the first
// home's too.
func (l *Lab) edge2Config(hubKey string) string {
	return fmt.Sprintf(`# The lab's second home, written by "uplinkd-lab up".
role = "edge"
site = "lab-home2"
asn = 64520
router_id = "198.18.20.1"
state_dir = %q

[wireguard]
private_key_file = %q
implementation = %q

[api]
socket = %q

[bgp]
peer_asn = 64513
originate = [%q, %q]

[liveness]
hold_down_ms = 1000

[[uplink]]
name = "fiber"
interface = "inet0"
gateway = "203.0.113.14"
tunnel_interface = %q
tunnel_address = ["%s/31"]
endpoint = "%s:%d"
public_key = %q
`, filepath.Join(l.Dir, "edge2-state"), l.keyPath("edge2"), l.Impl("edge2"), l.Socket("edge2"), LAN2Prefix, LANPrefix,
		l.Edge2Tunnel(), Edge2Tunnel4, HubPublic, Edge2Port, hubKey)
}

// hubBGP is a hub's [bgp] and, with a second home, its [[edge]] tables.
func (l *Lab) hubBGP(site string) string {
	const originate = `# The extra prefix is refused by the edge's import filter (a lab test).
originate = ["0.0.0.0/0", "::/0", "198.18.250.0/24"]
`
	if !l.SecondEdge || site != "hub" {
		return fmt.Sprintf("[bgp]\npeer_asn = 64512\naccept = [%q, %q]\n%s", LANPrefix, LANPrefix6, originate)
	}
	return fmt.Sprintf(`[bgp]
%s
[[edge]]
name = "home"
asn = 64512
accept = [%q, %q]

[[edge]]
name = "home2"
asn = 64520
accept = [%q]
`, originate, LANPrefix, LANPrefix6, LAN2Prefix)
}

// hubASN is a hub site's AS: the hubs are different operators' VPSs.
func hubASN(site string) int {
	if site == "hub2" {
		return 64514
	}
	return 64513
}

// publishConfig publishes the LAN host's whoami over TCP and UDP at the
// hubs' public addresses; the edge lists the same services.
func publishConfig() string {
	return fmt.Sprintf(`
# The LAN host's servers, published at the hub's public address: the
# client's own address reaches them (DNAT, no SNAT).
[[publish]]
name = "whoami"
protocol = "tcp"
port = %[1]d
to = "%[3]s:%[4]d"
to6 = "[%[5]s]:%[4]d"

[[publish]]
name = "whoami-udp"
protocol = "udp"
port = %[2]d
to = "%[3]s"
to6 = "%[5]s"

# A long-lived stream (the failover test's).
[[publish]]
name = "stream"
protocol = "tcp"
port = %[6]d
to = "%[3]s:%[7]d"
`, PublishPort, PublishUDPPort, LANHost, WhoAmIPort, LANHost6, StreamPublishPort, StreamPort)
}

func (l *Lab) edgeConfig(keys map[string]string) string {
	hubKey := keys["hub"]
	var b strings.Builder
	fmt.Fprintf(&b, `# The lab's home router, written by "uplinkd-lab up".
role = "edge"
site = "lab-home"
asn = 64512
router_id = "198.18.10.1"
state_dir = %q

[wireguard]
private_key_file = %q
implementation = %q

[api]
socket = %q

[bgp]
peer_asn = 64513
originate = [%q, %q]
%s
[liveness]
hold_down_ms = 1000

# Breakout: real AWS ranges and Netflix's prefixes, and the lab's media
# server, served by ul-web, leave through the home 5G router.
[breakout]
gateway = %q
gateway6 = %q
interface = "breakout"
probe_interval_ms = 200

[[breakout.source]]
name = "aws-ec2-tokyo"
type = "aws"
url = "http://%s:%d/aws-ip-ranges.json"
allow_http = true # the lab's feed server is plain http
services = ["EC2"]
regions = ["ap-northeast-1"]
refresh = 60
header = { asn = 16509, asn_name = "AMAZON-02", category = "internet", name = "AMAZON" }

[[breakout.source]]
name = "netflix"
type = "asn"
url = "http://%s:%d/caida-pfx2as-20240406-AS2906-ipv4.txt"
allow_http = true # the lab's feed server is plain http
asns = [2906]
refresh = 60
header = { asn = 2906, asn_name = "AS-SSI", category = "streaming", name = "NETFLIX" }

[[breakout.source]]
name = "media"
type = "url"
url = "http://%s:%d/media.txt"
allow_http = true # the lab's feed server is plain http
refresh = 60
`, filepath.Join(l.Dir, "edge-state"), l.keyPath("edge"), l.Impl("edge"), l.Socket("edge"), LANPrefix, LANPrefix6, l.edgeGTSM(),
		BreakoutGW, BreakoutGW6, WebAddr, FeedPort, WebAddr, FeedPort, WebAddr, FeedPort)
	b.WriteString(publishConfig())
	if l.Hubs > 1 {
		l.edgeHubs(&b, keys)
		return b.String()
	}
	for i, c := range Carriers {
		_, edge4, _, edge6 := TunnelAddrs(i)
		fmt.Fprintf(&b, `
[[uplink]]
name = %q
interface = "wwan-%s"
gateway = %q
weight = 1
tunnel_interface = %q
tunnel_address = ["%s/31", "%s/127"]
endpoint = "%s:%d"
public_key = %q
persistent_keepalive = 25
`, c, c, CarrierGateway(i), l.EdgeTunnel(c), edge4, edge6, HubPublic, HubPort(i), hubKey)
	}
	return b.String()
}

// edgeGTSM turns GTSM off against an FRR hub: FRR's bgpd makes a peer's
// BFD session multihop (RFC 5883, port 4784) whenever GTSM is on for it,
// and uplinkd's BFD is single-hop (RFC 5881). Inside WireGuard only the
// hub can send anyway, so GTSM adds little there.
func (l *Lab) edgeGTSM() string {
	if l.HubDaemon == HubFRR {
		return "# FRR's BFD turns multihop with GTSM on; uplinkd's is single-hop.\nttl_security = false\n"
	}
	return ""
}

// edgeHubs writes the carriers and the [[hub]] tables of a lab with two
// hubs: active-active, and the 5G router as the last resort.
func (l *Lab) edgeHubs(b *strings.Builder, keys map[string]string) {
	b.WriteString("\n[ecmp]\nlast_resort = \"breakout\"\n")
	for i, c := range Carriers {
		fmt.Fprintf(b, "\n[[uplink]]\nname = %q\ninterface = \"wwan-%s\"\ngateway = %q\nweight = 1\npersistent_keepalive = 25\n",
			c, c, CarrierGateway(i))
	}
	for _, site := range l.HubSites() {
		fmt.Fprintf(b, "\n[[hub]]\nname = %q\nendpoint = %q\npublic_key = %q\nasn = %d\n", site, HubAddr(site), keys[site], hubASN(site))
		for i, c := range Carriers {
			_, edge4, _, edge6 := TunnelAddrsTo(site, i)
			fmt.Fprintf(b, "\n[[hub.tunnel]]\nuplink = %q\nport = %d\ntunnel_address = [\"%s/31\", \"%s/127\"]\ntunnel_interface = %q\n",
				c, HubPort(i), edge4, edge6, l.EdgeTunnelTo(site, c))
		}
	}
}

func (l *Lab) hubConfig(site string, keys map[string]string) string {
	edgeKey := keys["edge"]
	var b strings.Builder
	fmt.Fprintf(&b, `# The lab's VPS hub, written by "uplinkd-lab up".
role = "hub"
site = "lab-%s"
asn = %d
router_id = %q
state_dir = %q

[wireguard]
private_key_file = %q
implementation = %q

[api]
socket = %q

[hub]
public_interface = "eth0"

[liveness]
hold_down_ms = 1000

%s`, site, hubASN(site), HubAddr(site), filepath.Join(l.Dir, site+"-state"), l.keyPath(site), l.Impl(site), l.Socket(site), l.hubBGP(site))
	b.WriteString(publishConfig())
	two := l.SecondEdge && site == "hub"
	for i, c := range Carriers {
		hub4, _, hub6, _ := TunnelAddrsTo(site, i)
		fmt.Fprintf(&b, `
[[tunnel]]
name = %q
tunnel_interface = %q
listen_port = %d
tunnel_address = ["%s/31", "%s/127"]
public_key = %q
`, c, l.HubTunnelOf(site, c), HubPort(i), hub4, hub6, edgeKey)
		if two {
			b.WriteString("edge = \"home\"\n")
		}
	}
	if two {
		fmt.Fprintf(&b, "\n[[tunnel]]\nname = \"fiber\"\nedge = \"home2\"\ntunnel_interface = %q\nlisten_port = %d\ntunnel_address = [\"198.18.102.0/31\"]\npublic_key = %q\n",
			l.HubEdge2Tunnel(), Edge2Port, keys["edge2"])
	}
	return b.String()
}

// Start runs a site's daemon inside its namespace, detached so that it
// outlives `uplinkd-lab up`, and waits for its control socket.
func (l *Lab) Start(site string) error {
	logf, err := os.OpenFile(l.LogPath(site), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("ip", "netns", "exec", l.siteNS(site), l.Binary, "run", "-c", l.ConfigPath(site))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s daemon: %w", site, err)
	}
	pid := cmd.Process.Pid
	// Reap it if it ends while this process lives (the tests); after
	// `lab up` exits, init does.
	go cmd.Wait()
	if err := os.WriteFile(l.pidPath(site), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	return l.waitSocket(site, pid, 10*time.Second)
}

func (l *Lab) waitSocket(site string, pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := api.NewClient(l.Socket(site)).Status(); err == nil {
			return nil
		}
		if syscall.Kill(pid, 0) != nil {
			return fmt.Errorf("%s daemon exited; its log %s ends:\n%s", site, l.LogPath(site), Tail(l.LogPath(site), 15))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s daemon did not open %s within %s; log %s", site, l.Socket(site), limit, l.LogPath(site))
}

// startServers runs the whoami server on ul-web and ul-media and the feed
// server on ul-web, detached
// like the daemons; deleting their namespaces ends them.
func (l *Lab) startServers() error {
	// ip netns exec would start, fail to run a missing binary and leave
	// nothing listening: the lab would then wait for feeds that never come.
	if _, err := os.Stat(l.Servers); err != nil {
		return fmt.Errorf("%w (the uplinkd-lab binary, beside the daemon's: `make build` puts both in bin/)", err)
	}
	servers := []struct {
		host, verb string
		port       int
	}{
		{"web", "whoami", WhoAmIPort}, {"media", "whoami", WhoAmIPort}, {"web", "feeds", FeedPort},
		{"lan", "whoami", WhoAmIPort}, {"lan", "whoami-udp", PublishUDPPort}}
	for _, sv := range servers {
		host := sv.host
		cmd := exec.Command("ip", "netns", "exec", l.NS(host), l.Servers, sv.verb,
			"-listen", fmt.Sprintf(":%d", sv.port))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s on %s: %w", sv.verb, host, err)
		}
		go cmd.Wait()
	}
	return nil
}

// Stop ends a site's daemon with SIGTERM (so it removes what it made),
// then SIGKILL after five seconds.
func (l *Lab) Stop(site string) error {
	b, err := os.ReadFile(l.pidPath(site))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("bad pid file %s", l.pidPath(site))
	}
	defer os.Remove(l.pidPath(site))
	if syscall.Kill(pid, syscall.SIGTERM) != nil {
		return nil // already gone
	}
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	return fmt.Errorf("%s daemon (pid %d) ignored SIGTERM for 5 s and was killed", site, pid)
}

// Reload sends a site's daemon SIGHUP: it rereads its config file.
func (l *Lab) Reload(site string) error {
	b, err := os.ReadFile(l.pidPath(site))
	if err != nil {
		return err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return syscall.Kill(pid, syscall.SIGHUP)
}

// Kill ends a site's daemon with SIGKILL, as a crash would.
func (l *Lab) Kill(site string) error {
	b, err := os.ReadFile(l.pidPath(site))
	if err != nil {
		return err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return os.Remove(l.pidPath(site))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s daemon (pid %d) survived SIGKILL", site, pid)
}

// WaitHandshakes waits until the hub reports a handshake on every tunnel,
// and names the ones that have none when the time is up.
func (l *Lab) WaitHandshakes(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var missing []string
	for {
		missing = missing[:0]
		for _, site := range l.DaemonSites() {
			st, err := api.NewClient(l.Socket(site)).Status()
			if err != nil {
				return err
			}
			for _, t := range st.Tunnels {
				if t.LastHandshake.IsZero() {
					missing = append(missing, fmt.Sprintf("%s %s (%s)", site, t.Name, t.Uplink))
				}
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no handshake within %s on: %s; see %s and %s", limit,
				strings.Join(missing, ", "), l.LogPath("edge"), l.LogPath("hub"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitRouting waits until the edge has its IPv4 and IPv6 default routes
// over every tunnel and breakout installed from every source.
func (l *Lab) WaitRouting(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		st, err := api.NewClient(l.Socket("edge")).Status()
		if err != nil {
			return err
		}
		missing := l.routingMissing(st)
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("within %s: %s; see %s", limit, missing, l.LogPath("edge"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// routingMissing says what the edge still lacks, "" when nothing.
func (l *Lab) routingMissing(st api.Status) string {
	if st.ECMP == nil {
		return "no ECMP status"
	}
	for _, def := range []string{"0.0.0.0/0", "::/0"} {
		ok := false
		for _, r := range st.ECMP.Routes {
			ok = ok || (r.Prefix == def && len(r.NextHops) == len(Carriers)*l.Hubs)
		}
		if !ok {
			return fmt.Sprintf("no %s route over all %d tunnels", def, len(Carriers)*l.Hubs)
		}
	}
	if st.Breakout == nil || st.Breakout.Compile.Installed == 0 {
		return "no breakout routes installed"
	}
	for _, s := range st.Breakout.Sources {
		if s.LastSuccess.IsZero() {
			return "breakout source " + s.Name + " not fetched"
		}
	}
	return ""
}

// Tail returns the last n lines of the file at path (a daemon's log), ""
// when it cannot be read.
func Tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
