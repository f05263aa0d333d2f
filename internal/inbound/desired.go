package inbound

import (
	"net/netip"

	"github.com/uplinkd/uplinkd/internal/config"
)

// TableName is the nftables table (family inet) this package owns.
const TableName = "uplinkd_inbound"

// Desired is what the inbound table must hold.
type Desired struct {
	// Public is the hub's public interface; "" on an edge.
	Public string
	// Protect are the prefixes the public side may not reach uninvited
	// (hub): the edges' LANs and the tunnels' own addresses.
	Protect []netip.Prefix
	Publish []config.Publish
	// Hubs are the edge's hubs: the mark of connections that come in
	// through each one's tunnels.
	Hubs []HubTunnels
	// Trusted are sources a hub's tunnels may open connections from
	// (edge): the hubs' own tunnel addresses, so that a hub can reach the
	// LAN it routes to while the internet behind it cannot.
	Trusted []netip.Prefix
	// Return says whether replies carry their hub's mark as fwmark (an
	// edge with published services; its return tables exist).
	Return bool
}

// HubTunnels is one hub of an edge and the interfaces of its tunnels.
type HubTunnels struct {
	Hub        string
	Mark       uint32
	Interfaces []string
}

// FromConfig derives the inbound table of a site.
func FromConfig(c *config.Config) Desired {
	d := Desired{Publish: c.Publish}
	switch c.Role {
	case config.RoleHub:
		d.Public = c.Hub.PublicInterface
		d.Protect = append(d.Protect, c.BGP.Accept...)
		for _, t := range c.Tunnels {
			for _, a := range t.Addresses {
				d.Protect = append(d.Protect, a.Masked())
			}
		}
	case config.RoleEdge:
		d.Return = len(c.ReturnPaths()) > 0
		for i, h := range c.Hubs {
			ht := HubTunnels{Hub: h.Name, Mark: config.HubMark(i)}
			for _, t := range c.EdgeTunnels {
				if t.Hub == h.Name {
					ht.Interfaces = append(ht.Interfaces, t.Interface)
					for _, a := range t.Addresses {
						d.Trusted = append(d.Trusted, a.Masked())
					}
				}
			}
			d.Hubs = append(d.Hubs, ht)
		}
	}
	return d
}
