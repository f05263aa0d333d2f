package ecmp

import (
	"net/netip"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// LastResort is where the default routes go while no tunnel of any hub
// carries them: the breakout gateway (the home 5G router) or a carrier's
// own gateway. The LAN is masqueraded out of Interface (see the daemon's
// NAT), since nothing beyond it knows a route back.
type LastResort struct {
	Via       string     // "breakout" or the uplink's name, for status and logs
	Interface string     // where it leaves
	Gateway4  netip.Addr // invalid: learned from Table (a carrier's pin table)
	Gateway6  netip.Addr // invalid: no IPv6 last resort
	Table     int        // a carrier's pin table, whose default names its gateway
}

// defaultRoutes are the only prefixes a last resort stands in for.
var defaultRoutes = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

// lastResort derives the plan's last resort from the config; nil when off.
func lastResort(c *config.Config) *LastResort {
	switch via := c.ECMP.LastResort; via {
	case "":
		return nil
	case config.LastResortBreakout:
		return &LastResort{Via: via, Interface: c.Breakout.Interface,
			Gateway4: c.Breakout.Gateway, Gateway6: c.Breakout.Gateway6}
	default:
		for _, u := range c.Uplinks {
			if u.Name == via {
				return &LastResort{Via: via, Interface: u.Interface, Gateway4: u.Gateway, Table: u.Table}
			}
		}
	}
	return nil
}

// LastResortStatus says whether the last resort carries the default routes,
// and since when.
type LastResortStatus struct {
	Via      string    `json:"via"`
	Active   bool      `json:"active"`
	Since    time.Time `json:"since,omitzero"` // of the current state
	Prefixes []string  `json:"prefixes,omitempty"`
	Error    string    `json:"error,omitempty"` // why it could not be used
}

// withLastResort adds the last resort to want for each default route
// that accept takes and no live tunnel carries. hops holds the last
// resort's next hop per family (none: that family has no last resort).
func withLastResort(want map[netip.Prefix][]fib.WeightedNexthop, accept []netip.Prefix, hops map[bool]fib.WeightedNexthop) []netip.Prefix {
	var used []netip.Prefix
	for _, p := range defaultRoutes {
		if _, carried := want[p]; carried || !slices.Contains(accept, p) {
			continue
		}
		if nh, ok := hops[p.Addr().Is4()]; ok {
			want[p] = []fib.WeightedNexthop{nh}
			used = append(used, p)
		}
	}
	return used
}
