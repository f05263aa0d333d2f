package lab

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Carriers are the lab's mobile operators, in uplink order.
var Carriers = []string{"docomo", "softbank", "rakuten"}

// Options choose where a lab lives. Two labs with different tags can run
// side by side (the demo and the tests).
type Options struct {
	Dir    string // working directory: configs, keys, logs, sockets
	Tag    string // "" for the demo; a short word keeps test labs apart
	Binary string // the uplinkd binary the daemons run
	// Servers is the uplinkd-lab binary that runs the lab's servers
	// (whoami, feeds); default: uplinkd-lab beside Binary.
	Servers string
	// Hubs is 1 (the default) or 2: a second VPS, ul-hub2, with its own
	// public address, the edge in the [[hub]] form, active-active, and
	// the last resort through the 5G router.
	Hubs int
	// SecondEdge adds a second home (ul-home2, its LAN 198.18.20.0/24 on
	// ul-lan2, one fibre line straight to the internet) served by the
	// first hub, which then has an [[edge]] table per home. The second
	// home also claims the first's LAN, which the hub must refuse.
	SecondEdge bool
	// HubDaemon runs the hub: HubUplinkd (the default), or HubFRR or
	// HubBIRD, a peer hub of wireguard-go and FRR or BIRD 2 (one hub, one
	// edge), the interop lab.
	HubDaemon string
	// Keep leaves a lab that failed to come up as it is, to look at.
	Keep bool
	// EdgeImpl and HubImpl are the WireGuard implementation of the edge
	// sites' and the uplinkd hubs' tunnels: "auto" (the default: the
	// kernel's where it has the module), "kernel" or "userspace".
	EdgeImpl, HubImpl string
}

// hubDaemonFile, in the lab's directory, names a peer hub's daemon.
const hubDaemonFile = "hub-daemon"

// What may run the lab's hub.
const (
	HubUplinkd = "uplinkd"
	HubFRR     = "frr"
	HubBIRD    = "bird"
)

// Steps of Up's progress that callers time (the bench's cold start): it
// prints "lab: STEP" as each begins.
const (
	StepEdgeDaemons = "edge daemons"           // the edge sites' daemons start
	StepRouting     = "BGP, ECMP and breakout" // handshakes done; waiting for routing
)

// Lab names every object of one lab instance.
type Lab struct {
	Options
}

// New returns the lab described by opts, with the demo's defaults filled.
func New(opts Options) *Lab {
	if opts.Dir == "" {
		opts.Dir = "/run/uplinkd-lab" + opts.Tag
	}
	opts.Hubs = min(max(opts.Hubs, 1), 2)
	if opts.HubDaemon == "" {
		// A lab already up says what runs its hub.
		b, _ := os.ReadFile(filepath.Join(opts.Dir, hubDaemonFile))
		opts.HubDaemon = cmp.Or(strings.TrimSpace(string(b)), HubUplinkd)
	}
	if opts.HubDaemon != HubUplinkd {
		opts.Hubs, opts.SecondEdge = 1, false
	}
	if opts.Servers == "" && opts.Binary != "" {
		opts.Servers = filepath.Join(filepath.Dir(opts.Binary), "uplinkd-lab")
	}
	return &Lab{Options: opts}
}

// NS is the namespace of a lab host: lan, home, docomo, softbank, rakuten,
// inet, hub, 5g, web, media.
func (l *Lab) NS(host string) string { return "ul" + l.Tag + "-" + host }

// Hosts lists every namespace of the lab.
func (l *Lab) Hosts() []string {
	hosts := []string{"lan", "home", "docomo", "softbank", "rakuten", "inet", "hub", "5g", "web", "media"}
	if l.Hubs > 1 {
		hosts = append(hosts, "hub2")
	}
	if l.SecondEdge {
		hosts = append(hosts, "home2", "lan2")
	}
	return hosts
}

// Sites are the lab's daemons: the hubs, then the edge.
func (l *Lab) Sites() []string {
	sites := []string{"hub"}
	if l.Hubs > 1 {
		sites = append(sites, "hub2")
	}
	sites = append(sites, "edge")
	if l.SecondEdge {
		sites = append(sites, "edge2")
	}
	return sites
}

// PeerHub says whether the hub is FRR or BIRD, not uplinkd.
func (l *Lab) PeerHub() bool { return l.HubDaemon != HubUplinkd }

// DaemonSites are the sites that run uplinkd (all but a peer hub).
func (l *Lab) DaemonSites() []string {
	if l.PeerHub() {
		return l.Sites()[1:]
	}
	return l.Sites()
}

// HubSites are the lab's hub daemons.
func (l *Lab) HubSites() []string {
	if l.Hubs > 1 {
		return []string{"hub", "hub2"}
	}
	return []string{"hub"}
}

// The second home: its LAN, its line to the internet, its tunnel to the
// first hub.
const (
	LAN2Host     = "198.18.20.2"
	LAN2Prefix   = "198.18.20.0/24"
	Home2Public  = "203.0.113.15"
	Edge2Port    = 51831
	Edge2Tunnel4 = "198.18.102.1" // the edge's side; the hub's is .0
)

// Edge2Tunnel and HubEdge2Tunnel name the second home's tunnel at each end.
func (l *Lab) Edge2Tunnel() string    { return "wg" + l.Tag + "-e2" }
func (l *Lab) HubEdge2Tunnel() string { return "wgh" + l.Tag + "-e2" }

// EdgeTunnel and HubTunnel are the WireGuard interface names of a carrier's
// tunnel. They must be unique machine-wide: wireguard-go's UAPI sockets
// share one directory across namespaces.
func (l *Lab) EdgeTunnel(carrier string) string { return "wg" + l.Tag + "-" + carrier }

// HubTunnel is the hub's interface facing a carrier's tunnel.
func (l *Lab) HubTunnel(carrier string) string { return "wgh" + l.Tag + "-" + carrier }

// EdgeTunnelTo is the edge's interface of a carrier's tunnel to a hub
// site ("hub" or "hub2"); HubTunnelOf the hub's side of it.
func (l *Lab) EdgeTunnelTo(site, carrier string) string {
	if site == "hub2" {
		return "wg" + l.Tag + "2-" + carrier
	}
	return l.EdgeTunnel(carrier)
}

// HubTunnelOf is a hub site's interface facing a carrier's tunnel.
func (l *Lab) HubTunnelOf(site, carrier string) string {
	if site == "hub2" {
		return "wgh" + l.Tag + "2-" + carrier
	}
	return l.HubTunnel(carrier)
}

// Addresses of the lab. "Public" ones come from 203.0.113.0/24 and
// 198.51.100.0/24 (the media server, inside the breakout prefix), the
// carriers' CGN side from 100.64.0.0/10, the home LAN and tunnels from
// 198.18.0.0/15, IPv6 from 2001:db8::/32.
const (
	HubPublic   = "203.0.113.9"
	HubPublic6  = "2001:db8:ff:9::2"
	WebAddr     = "203.0.113.11"
	WebAddr6    = "2001:db8:ff:b::2"
	MediaAddr   = "198.51.100.11"
	LANHost     = "198.18.10.2"
	LANPrefix   = "198.18.10.0/24"
	LANPrefix6  = "2001:db8:10::/64"
	FiveGPublic = "203.0.113.7"
	// FiveGPublic6 is the 5G router's IPv6 address on the internet side;
	// it masquerades IPv6 too.
	FiveGPublic6 = "2001:db8:ff:7::2"
	BreakoutGW   = "198.18.5.1"
	BreakoutGW6  = "2001:db8:5::1"
	Hub2Public   = "203.0.113.13"
	Hub2Public6  = "2001:db8:ff:d::2"
	LANHost6     = "2001:db8:10::2"
	// PublishPort is where the hubs publish the LAN host's whoami (TCP)
	// and its UDP who-am-i (PublishUDPPort).
	PublishPort    = 8443
	PublishUDPPort = 5353
)

// HubAddr is a hub site's public address.
func HubAddr(site string) string {
	if site == "hub2" {
		return Hub2Public
	}
	return HubPublic
}

// CarrierPublic is the address a carrier's CGN masquerades to: what the
// hub sees as that tunnel's endpoint.
func CarrierPublic(i int) string { return fmt.Sprintf("203.0.113.%d", 2*i+1) }

// CarrierGateway is the carrier's side of the home's uplink link.
func CarrierGateway(i int) string { return fmt.Sprintf("100.64.%d.1", i+1) }

// HubPort is the hub's listen port for a carrier's tunnel.
func HubPort(i int) int { return 51821 + i }

// TunnelAddrs are the inner addresses of carrier i's tunnel: hub side
// first, then edge side.
func TunnelAddrs(i int) (hub4, edge4, hub6, edge6 string) {
	return TunnelAddrsTo("hub", i)
}

// TunnelAddrsTo are TunnelAddrs of the tunnel to a hub site: hub2's from
// 198.18.101.0/24 and 2001:db8:101::/48.
func TunnelAddrsTo(site string, i int) (hub4, edge4, hub6, edge6 string) {
	n := 100
	if site == "hub2" {
		n = 101
	}
	return fmt.Sprintf("198.18.%d.%d", n, 2*i), fmt.Sprintf("198.18.%d.%d", n, 2*i+1),
		fmt.Sprintf("2001:db8:%d:%d::", n, i+1), fmt.Sprintf("2001:db8:%d:%d::1", n, i+1)
}

// link is one veth pair between two lab hosts.
type link struct {
	a, aIf string
	b, bIf string
	aAddr  []string // with prefix length
	bAddr  []string
}

func (l *Lab) links() []link {
	ls := []link{
		{"lan", "eth0", "home", "lan0", []string{LANHost + "/24", "2001:db8:10::2/64"}, []string{"198.18.10.1/24", "2001:db8:10::1/64"}},
		{"home", "breakout", "5g", "lan0", []string{"198.18.5.2/24", "2001:db8:5::2/64"}, []string{BreakoutGW + "/24", BreakoutGW6 + "/64"}},
		{"5g", "inet0", "inet", "5g", []string{FiveGPublic + "/31", FiveGPublic6 + "/64"}, []string{"203.0.113.6/31", "2001:db8:ff:7::1/64"}},
		{"hub", "eth0", "inet", "hub", []string{HubPublic + "/31", HubPublic6 + "/64"}, []string{"203.0.113.8/31", "2001:db8:ff:9::1/64"}},
		{"web", "eth0", "inet", "web", []string{WebAddr + "/31", WebAddr6 + "/64"}, []string{"203.0.113.10/31", "2001:db8:ff:b::1/64"}},
		{"media", "eth0", "inet", "media", []string{MediaAddr + "/31", "2001:db8:ff:c::2/64"}, []string{"198.51.100.10/31", "2001:db8:ff:c::1/64"}},
	}
	if l.Hubs > 1 {
		ls = append(ls, link{"hub2", "eth0", "inet", "hub2", []string{Hub2Public + "/31", Hub2Public6 + "/64"}, []string{"203.0.113.12/31", "2001:db8:ff:d::1/64"}})
	}
	if l.SecondEdge {
		ls = append(ls, link{"lan2", "eth0", "home2", "lan0", []string{LAN2Host + "/24"}, []string{"198.18.20.1/24"}},
			link{"home2", "inet0", "inet", "home2", []string{Home2Public + "/31"}, []string{"203.0.113.14/31"}})
	}
	for i, c := range Carriers {
		ls = append(ls,
			link{"home", "wwan-" + c, c, "home0", []string{fmt.Sprintf("100.64.%d.2/24", i+1)}, []string{CarrierGateway(i) + "/24"}},
			link{c, "inet0", "inet", c, []string{CarrierPublic(i) + "/31"}, []string{fmt.Sprintf("203.0.113.%d/31", 2*i)}})
	}
	return ls
}

// routes are each host's static routes (the daemons add the rest).
func (l *Lab) routes() map[string][][]string {
	r := map[string][][]string{
		"lan":   {{"default", "via", "198.18.10.1"}, {"-6", "default", "via", "2001:db8:10::1"}},
		"5g":    {{"default", "via", "203.0.113.6"}, {"-6", "default", "via", "2001:db8:ff:7::1"}},
		"hub":   {{"default", "via", "203.0.113.8"}, {"-6", "default", "via", "2001:db8:ff:9::1"}},
		"web":   {{"default", "via", "203.0.113.10"}, {"-6", "default", "via", "2001:db8:ff:b::1"}},
		"media": {{"default", "via", "198.51.100.10"}, {"-6", "default", "via", "2001:db8:ff:c::1"}},
	}
	for i, c := range Carriers {
		r[c] = [][]string{{"default", "via", fmt.Sprintf("203.0.113.%d", 2*i)}}
	}
	if l.Hubs > 1 {
		r["hub2"] = [][]string{{"default", "via", "203.0.113.12"}, {"-6", "default", "via", "2001:db8:ff:d::1"}}
	}
	if l.SecondEdge {
		r["lan2"] = [][]string{{"default", "via", "198.18.20.1"}}
	}
	return r
}

// natHosts masquerade everything leaving through their inet0: the
// carriers' CGN and the home 5G router.
func (l *Lab) natHosts() []string { return append([]string{"5g"}, Carriers...) }

// endHosts are the hosts that only send and receive: every host of a
// link that is not a router.
func (l *Lab) endHosts() []string {
	var hs []string
	for _, k := range l.links() {
		for _, h := range []string{k.a, k.b} {
			if !slices.Contains(l.routers(), h) && !slices.Contains(hs, h) {
				hs = append(hs, h)
			}
		}
	}
	return hs
}

// routers forward packets.
func (l *Lab) routers() []string {
	rs := append([]string{"home", "inet", "hub", "5g"}, Carriers...)
	if l.Hubs > 1 {
		rs = append(rs, "hub2")
	}
	if l.SecondEdge {
		rs = append(rs, "home2")
	}
	return rs
}
