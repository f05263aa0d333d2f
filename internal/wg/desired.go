package wg

import (
	"net/netip"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/uplinkd/uplinkd/internal/config"
)

// Desired is everything this package should make true in the kernel.
type Desired struct {
	Site    string
	Impl    config.Impl
	Tunnels []Tunnel
	Pins    []Pin // edge only
	// Returns send the replies of published services back to the hub
	// they came from (edge, with [[publish]]): rules only; the tables'
	// routes are the ECMP controller's.
	Returns []Return
	// Sources keep the edge's own traffic from a tunnel's address in that
	// tunnel (see config.SourceTableBase).
	Sources []Source
}

// Source is one edge tunnel's source route: packets from one of Addrs
// look up Table, whose default goes out of Tunnel.
type Source struct {
	Tunnel string
	Addrs  []netip.Prefix // the tunnel's own addresses, as host prefixes
	Table  int
	// Priority is the rule to Table's, MainPriority the one before it to
	// the main table's routes other than a default.
	Priority, MainPriority int
}

// Return is one hub's return-path rule: packets marked Mark look up Table.
type Return struct {
	Hub      string
	Mark     uint32
	Table    int
	Priority int
}

// Returns lists the return-path rules of an edge that publishes services.
func Returns(c *config.Config) []Return {
	var out []Return
	for _, rp := range c.ReturnPaths() {
		out = append(out, Return{Hub: rp.Hub, Mark: rp.Mark, Table: rp.Table, Priority: rp.Priority})
	}
	return out
}

// Tunnel is one WireGuard interface with its single peer.
type Tunnel struct {
	Name       string // interface name
	Uplink     string // carrier it belongs to, for logs and status
	Hub        string // edge: the hub it goes to
	Site       string // hub: the edge site it serves ("" with one)
	MTU        int
	Addresses  []netip.Prefix
	PrivateKey wgtypes.Key
	ListenPort int    // 0: chosen by the kernel (edge)
	FwMark     uint32 // set on outer packets; 0: none (hub)
	Peer       Peer
}

// Peer is the far end of a tunnel.
type Peer struct {
	PublicKey  wgtypes.Key
	Endpoint   string // host:port; empty on the hub, which learns it
	Keepalive  time.Duration
	AllowedIPs []netip.Prefix
}

// Pin keeps one uplink's outer packets on its carrier: packets marked
// FwMark look up Table, whose default goes out of Interface only.
type Pin struct {
	Uplink    string
	Interface string
	Gateway   netip.Addr // invalid: learn it from the interface
	FwMark    uint32
	Table     int
	Priority  int
}

// allTraffic is every peer's AllowedIPs: routing decides what enters a
// tunnel, not WireGuard's cryptokey table.
var allTraffic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/0"),
	netip.MustParsePrefix("::/0"),
}

// FromConfig derives the desired tunnels and pins of a site.
func FromConfig(c *config.Config) Desired {
	d := Desired{Site: c.Site, Impl: c.WireGuard.Impl, Returns: Returns(c)}
	priv := wgtypes.Key(c.WireGuard.PrivateKey)
	for k, t := range c.EdgeTunnels {
		src := Source{Tunnel: t.Interface, Table: config.SourceTableBase + 1 + k,
			Priority: config.SourcePriority, MainPriority: config.SourceMainPriority}
		for _, a := range t.Addresses {
			src.Addrs = append(src.Addrs, netip.PrefixFrom(a.Addr(), a.Addr().BitLen()))
		}
		d.Sources = append(d.Sources, src)
		d.Tunnels = append(d.Tunnels, Tunnel{
			Name: t.Interface, Uplink: t.Uplink, Hub: t.Hub, MTU: c.WireGuard.MTU,
			Addresses: t.Addresses, PrivateKey: priv, FwMark: t.FwMark,
			Peer: Peer{PublicKey: wgtypes.Key(t.PublicKey), Endpoint: t.Endpoint,
				Keepalive: t.Keepalive, AllowedIPs: allTraffic},
		})
	}
	for _, u := range c.Uplinks {
		d.Pins = append(d.Pins, Pin{Uplink: u.Name, Interface: u.Interface,
			Gateway: u.Gateway, FwMark: u.FwMark, Table: u.Table, Priority: u.Priority})
	}
	for _, t := range c.Tunnels {
		d.Tunnels = append(d.Tunnels, Tunnel{
			Name: t.Interface, Uplink: t.Name, Site: t.Site, MTU: c.WireGuard.MTU,
			Addresses: t.Addresses, PrivateKey: priv, ListenPort: t.ListenPort,
			Peer: Peer{PublicKey: wgtypes.Key(t.PublicKey), AllowedIPs: allTraffic},
		})
	}
	return d
}
