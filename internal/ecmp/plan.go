package ecmp

import (
	"net/netip"
	"time"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
)

// Link is one tunnel the controller balances over, as derived from the
// config: its BGP peers (one per address family) and its BFD session.
type Link struct {
	Name      string // uplink (edge) or tunnel (hub) name
	Interface string // WireGuard interface
	Weight    int
	Local4    netip.Addr // BFD and the IPv4 session run between these
	Peer4     netip.Addr
	Local6    netip.Addr // invalid when the tunnel has no IPv6
	Peer6     netip.Addr
}

// Plan is everything the controller needs from a site's config.
type Plan struct {
	Links      []Link
	Speaker    bgp.Config
	BFD        bool
	Interval   time.Duration
	Mult       int
	HoldDown   time.Duration
	Table      uint32
	Resilient  string // auto, on, off
	HashPolicy int
	OnExit     string
}

// peerName is the BGP peer of a link for one family.
func peerName(link string, v6 bool) string {
	if v6 {
		return link + "-v6"
	}
	return link
}

// PlanFrom derives the controller's plan from a site's config.
func PlanFrom(c *config.Config) Plan {
	p := Plan{BFD: c.Liveness.BFD, Interval: c.Liveness.Interval, Mult: c.Liveness.Multiplier,
		HoldDown: c.Liveness.HoldDown, Table: uint32(c.ECMP.Table), Resilient: c.ECMP.Resilient,
		HashPolicy: c.ECMP.HashPolicy, OnExit: c.ECMP.OnExit}
	for _, u := range c.Uplinks {
		p.Links = append(p.Links, newLink(u.Name, u.Tunnel, u.Weight, u.Addresses))
	}
	for _, t := range c.Tunnels {
		p.Links = append(p.Links, newLink(t.Name, t.Interface, 1, t.Addresses))
	}
	p.Speaker = bgp.Config{
		ASN: c.ASN, RouterID: c.RouterID, Passive: c.Role == config.RoleHub,
		ListenPort: -1, HoldTime: c.BGP.HoldTime, Keepalive: c.BGP.Keepalive,
		ConnectRetry: time.Second, Originate: c.BGP.Originate, Accept: c.BGP.Accept,
		MaxPrefixes: uint32(c.BGP.MaxPrefixes), GRPC: c.BGP.GRPC,
	}
	if c.Role == config.RoleHub {
		p.Speaker.ListenPort = c.BGP.Port
	}
	for _, l := range p.Links {
		p.Speaker.Peers = append(p.Speaker.Peers, bgp.Peer{Name: peerName(l.Name, false),
			Address: l.Peer4, Local: l.Local4, ASN: c.BGP.PeerASN, Port: c.BGP.Port})
		if l.Local6.IsValid() {
			p.Speaker.Peers = append(p.Speaker.Peers, bgp.Peer{Name: peerName(l.Name, true),
				Address: l.Peer6, Local: l.Local6, ASN: c.BGP.PeerASN, Port: c.BGP.Port})
		}
	}
	return p
}

func newLink(name, ifname string, weight int, addrs []netip.Prefix) Link {
	l := Link{Name: name, Interface: ifname, Weight: weight}
	for _, a := range addrs {
		if a.Addr().Is4() {
			l.Local4, l.Peer4 = a.Addr(), config.PeerAddress(a)
		} else {
			l.Local6, l.Peer6 = a.Addr(), config.PeerAddress(a)
		}
	}
	return l
}
