package ecmp

import (
	"net/netip"
	"time"

	"github.com/uplinkd/uplinkd/internal/bfd"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
)

// Link is one tunnel the controller balances over, as derived from the
// config: its BGP peers (one per address family) and its BFD session.
type Link struct {
	Name      string // uplink (edge) or tunnel (hub) name: uplink@hub, tunnel@edge with several
	Interface string // WireGuard interface
	Hub       string // edge: the hub it goes to
	Site      string // hub: the edge site it serves ("" with one)
	// Preference: of the live tunnels that reach a prefix, only those of
	// the highest preference carry it (equal ones share: active-active).
	Preference int
	Weight     int
	// Carrier is the uplink it is pinned to (edge), whose data budget
	// limits it; SoftWeight its weight past the soft limit.
	Carrier    string
	SoftWeight int
	// Underlay is the carrier's interface (edge): losing carrier there
	// takes its tunnels out at once.
	Underlay string
	// Frugal: its BFD session offers the frugal liveness mode.
	Frugal bool
	Local4 netip.Addr // BFD and the IPv4 session run between these
	Peer4  netip.Addr
	Local6 netip.Addr // invalid when the tunnel has no IPv6
	Peer6  netip.Addr
}

// Plan is everything the controller needs from a site's config.
type Plan struct {
	Links    []Link
	Speaker  bgp.Config
	BFD      bool
	Interval time.Duration
	Mult     int
	// IdleInterval is the BFD rate of an idle frugal tunnel.
	IdleInterval time.Duration
	HoldDown     time.Duration
	Table        uint32
	Resilient    string // auto, on, off
	HashPolicy   int
	OnExit       string
	// FailoverPriority: the failover thread's SCHED_FIFO priority; 0: none.
	FailoverPriority int
	// LastResort carries the default routes while no tunnel does; nil:
	// off.
	LastResort *LastResort
	// Returns are the tables that carry the replies of published services
	// back to their hub: each the default over that hub's live tunnels.
	Returns []config.ReturnPath
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
	p := Plan{LastResort: lastResort(c), Returns: c.ReturnPaths(), BFD: c.Liveness.BFD, Interval: c.Liveness.Interval, Mult: c.Liveness.Multiplier,
		HoldDown: c.Liveness.HoldDown, IdleInterval: c.Liveness.IdleInterval, Table: uint32(c.ECMP.Table), Resilient: c.ECMP.Resilient,
		HashPolicy: c.ECMP.HashPolicy, OnExit: c.ECMP.OnExit, FailoverPriority: c.ECMP.FailoverPriority}
	asn := map[string]uint32{}            // link → its peer's AS
	accept := map[string][]netip.Prefix{} // link → what its peer may announce (hub)
	for _, t := range c.EdgeTunnels {
		hub := c.HubOf(t)
		l := newLink(t.Name, t.Interface, c.UplinkOf(t).Weight*hub.Weight, t.Addresses)
		l.Hub, l.Preference = t.Hub, hub.Preference
		l.Carrier, l.SoftWeight = t.Uplink, c.UplinkOf(t).Budget.SoftWeight*hub.Weight
		l.Underlay = c.UplinkOf(t).Interface
		l.Frugal = c.UplinkOf(t).Liveness == config.LivenessFrugal
		p.Links = append(p.Links, l)
		asn[l.Name] = hub.ASN
	}
	for _, t := range c.Tunnels {
		site := c.SiteOf(t)
		l := newLink(t.Link(), t.Interface, 1, t.Addresses)
		l.Site, l.Frugal = t.Site, t.Liveness == config.LivenessFrugal
		p.Links = append(p.Links, l)
		asn[l.Name] = site.ASN
		if len(c.Sites) > 1 {
			accept[l.Name] = site.Accept
		}
	}
	p.Speaker = bgp.Config{
		ASN: c.ASN, RouterID: c.RouterID, Passive: c.Role == config.RoleHub,
		ListenPort: -1, HoldTime: c.BGP.HoldTime, Keepalive: c.BGP.Keepalive,
		ConnectRetry: time.Second, Originate: c.BGP.Originate, Accept: c.BGP.Accept,
		MaxPrefixes: uint32(c.BGP.MaxPrefixes), GRPC: c.BGP.GRPC,
		MaxPrefixRestart: c.BGP.MaxPrefixRestart, Password: string(c.BGP.Password),
		DisableTTLSecurity: !c.BGP.TTLSecurity,
	}
	if c.Role == config.RoleHub {
		p.Speaker.ListenPort = c.BGP.Port
	}
	for _, l := range p.Links {
		p.Speaker.Peers = append(p.Speaker.Peers, bgp.Peer{Name: peerName(l.Name, false),
			Address: l.Peer4, Local: l.Local4, ASN: asn[l.Name], Port: c.BGP.Port, Accept: accept[l.Name]})
		if l.Local6.IsValid() {
			p.Speaker.Peers = append(p.Speaker.Peers, bgp.Peer{Name: peerName(l.Name, true),
				Address: l.Peer6, Local: l.Local6, ASN: asn[l.Name], Port: c.BGP.Port, Accept: accept[l.Name]})
		}
	}
	return p
}

// bfdSession is a link's BFD session.
func bfdSession(plan Plan, l Link) bfd.SessionConfig {
	return bfd.SessionConfig{Interface: l.Interface, Local: l.Local4, Peer: l.Peer4,
		DesiredMinTx: plan.Interval, RequiredMinRx: plan.Interval, DetectMult: uint8(plan.Mult),
		Frugal: l.Frugal, IdleInterval: plan.IdleInterval}
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
