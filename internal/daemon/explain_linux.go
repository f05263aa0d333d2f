package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/config"
)

// explain asks the kernel which route it uses for a, then says which part
// of uplinkd put it there: a breakout source (and its entries), the ECMP
// route with its live tunnels, or neither.
func (d *Daemon) explain(a netip.Addr) api.Explanation {
	e := api.Explanation{Addr: a.String(), Kind: "none"}
	routes, err := netlink.RouteGet(net.IP(a.AsSlice()))
	if err != nil || len(routes) == 0 {
		e.Lines = append(e.Lines, fmt.Sprintf("the kernel has no route to %s (%v)", a, err))
		return e
	}
	rt := routes[0]
	e.Kernel = kernelLine(a, rt)
	d.mu.Lock()
	cfg, bo, ctl := d.cfg, d.bo, d.ecmp
	d.mu.Unlock()
	switch {
	case bo != nil && rt.Table == cfg.Breakout.Table:
		e.Kind = "breakout"
		if x, ok := bo.Explain(a); ok {
			e.Route = x.Route.String()
			e.Lines = append(e.Lines, fmt.Sprintf("breakout route %s via %s (table %d)", x.Route, x.Gateway, x.Table))
			for _, en := range x.Entries {
				e.Lines = append(e.Lines, "  from "+en.String())
			}
		}
	case ctl != nil && rt.Table == cfg.ECMP.Table:
		d.explainECMP(&e, a)
	default:
		e.Kind = "other"
		e.Lines = append(e.Lines, fmt.Sprintf("table %d: a route uplinkd did not install", rt.Table))
	}
	if bo != nil && e.Kind != "breakout" {
		if x, ok := bo.Explain(a); ok && x.Withdrawn != "" {
			e.Lines = append(e.Lines, fmt.Sprintf("breakout would take it (%s, from %s) but is %s", x.Route, sources(x.Entries), x.Withdrawn))
		}
	}
	return e
}

// explainECMP finds the ECMP route that covers a, longest first.
func (d *Daemon) explainECMP(e *api.Explanation, a netip.Addr) {
	st := d.ecmp.Status(d.ctx)
	best := -1
	for _, r := range st.Routes {
		p, err := netip.ParsePrefix(r.Prefix)
		if err != nil || !p.Contains(a) || p.Bits() <= best {
			continue
		}
		best = p.Bits()
		e.Kind, e.Route = "ecmp", r.Prefix
		e.Lines = []string{fmt.Sprintf("ECMP route %s learned by BGP from the %s, %s next hops:", r.Prefix, peerSide(d.cfg), st.Mode)}
		for _, nh := range r.NextHops {
			e.Lines = append(e.Lines, fmt.Sprintf("  %s via %s weight %d", nh.Link, nh.Via, nh.Weight))
		}
		for _, l := range st.Links {
			if !l.InECMP {
				e.Lines = append(e.Lines, fmt.Sprintf("  (%s is out: BFD %s)", l.Name, l.BFD))
			}
		}
	}
	if best < 0 {
		e.Kind = "other"
		e.Lines = append(e.Lines, "a route in the ECMP table that uplinkd did not install")
	}
}

func peerSide(c *config.Config) string {
	if c.Role == config.RoleHub {
		return "edge"
	}
	return "hub"
}

func sources(es []breakout.Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Source())
	}
	return strings.Join(s, ", ")
}

// kernelLine prints a route as `ip route get` would, roughly.
func kernelLine(a netip.Addr, rt netlink.Route) string {
	s := a.String()
	if rt.Gw != nil {
		s += " via " + rt.Gw.String()
	}
	if l, err := netlink.LinkByIndex(rt.LinkIndex); err == nil {
		s += " dev " + l.Attrs().Name
	}
	if rt.Table != unix.RT_TABLE_MAIN {
		s += fmt.Sprintf(" table %d", rt.Table)
	}
	return s
}
