package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp"
)

// explain asks the kernel which route it uses for a, then says which part
// of uplinkd put it there: a breakout source (and its entries), the ECMP
// route with its live tunnels, or neither.
func (d *Daemon) explain(a netip.Addr) api.Explanation {
	e := api.Explanation{Addr: a.String(), Kind: "none"}
	if d.explainPublished(&e, a) {
		return e
	}
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

// explainPublished answers for the hub's own public address: where each
// published service there goes.
func (d *Daemon) explainPublished(e *api.Explanation, a netip.Addr) bool {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	if cfg.Role != config.RoleHub || len(cfg.Publish) == 0 || !localOn(cfg.Hub.PublicInterface, a) {
		return false
	}
	e.Kind = "published"
	e.Lines = append(e.Lines, fmt.Sprintf("%s is this hub's public address on %s; published there:", a, cfg.Hub.PublicInterface))
	for _, p := range cfg.Publish {
		lo, hi := p.LANPorts()
		to := p.To.Addr()
		if a.Is6() {
			if !p.To6.IsValid() {
				continue
			}
			to = p.To6.Addr()
		}
		line := fmt.Sprintf("  %s %s -> %s port %s (%s)", p.Protocol, portSpan(p.Port, p.PortEnd), to, portSpan(lo, hi), p.Name)
		if a.Is6() {
			line = fmt.Sprintf("  %s %s port %s (%s, routed)", p.Protocol, to, portSpan(lo, hi), p.Name)
		}
		e.Lines = append(e.Lines, line)
	}
	e.Lines = append(e.Lines, "  everything else from the public side towards the edges is dropped")
	return true
}

// localOn says whether a is an address of the interface.
func localOn(ifname string, a netip.Addr) bool {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return false
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return false
	}
	for _, ad := range addrs {
		if x, ok := netip.AddrFromSlice(ad.IP); ok && x.Unmap() == a {
			return true
		}
	}
	return false
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
		if lr := st.LastResort; lr != nil && lr.Active && slices.Contains(lr.Prefixes, r.Prefix) {
			e.Kind = "last-resort"
			e.Lines = []string{fmt.Sprintf("last resort: %s via %s (%s), since %s: no tunnel of any hub is alive", r.Prefix, lr.Via, nexthopList(r.NextHops), lr.Since.Format(time.RFC3339))}
		} else {
			e.Lines = []string{fmt.Sprintf("ECMP route %s learned by BGP from the %s, %s next hops:", r.Prefix, peerSide(d.cfg), st.Mode)}
			for _, nh := range r.NextHops {
				e.Lines = append(e.Lines, fmt.Sprintf("  %s via %s weight %d%s%s", nh.Link, nh.Via, nh.Weight, hubOf(st, nh.Link), slaOf(st, nh.Link)))
			}
		}
		for _, l := range st.Links {
			if !l.InECMP {
				e.Lines = append(e.Lines, fmt.Sprintf("  (%s is out: BFD %s%s)", l.Name, l.BFD, outWhy(st, l)))
			}
		}
	}
	if best < 0 {
		e.Kind = "other"
		e.Lines = append(e.Lines, "a route in the ECMP table that uplinkd did not install")
	}
}

// hubOf names the hub (edge) or edge site (hub) of a tunnel, for explain.
func hubOf(st ecmp.Status, link string) string {
	for _, l := range st.Links {
		if l.Name != link {
			continue
		}
		switch {
		case l.Hub != "" && l.Hub != config.DefaultHub:
			return ", hub " + l.Hub
		case l.Site != "":
			return ", edge site " + l.Site
		}
	}
	return ""
}

// outWhy adds that a live tunnel is out because a better hub carries the
// prefixes (primary/backup).
func outWhy(st ecmp.Status, l ecmp.LinkStatus) string {
	if l.BFD == "Up" && l.SLANote != "" {
		return "; " + l.SLANote
	}
	if l.BFD != "Up" || l.Hub == "" {
		return ""
	}
	for _, h := range st.Hubs {
		if h.Name != l.Hub && h.Carrying {
			for _, mine := range st.Hubs {
				if mine.Name == l.Hub && mine.Preference < h.Preference {
					return fmt.Sprintf("; hub %s is a backup (preference %d < %d of %s)", l.Hub, mine.Preference, h.Preference, h.Name)
				}
			}
		}
	}
	return ""
}

// slaOf is a next hop's SLA note when its SLA lowered its weight.
func slaOf(st ecmp.Status, link string) string {
	for _, l := range st.Links {
		if l.Name == link && l.SLANote != "" {
			return " (" + l.SLANote + ")"
		}
	}
	return ""
}

func nexthopList(nhs []ecmp.NextHop) string {
	var s []string
	for _, nh := range nhs {
		s = append(s, "via "+nh.Via)
	}
	return strings.Join(s, ", ")
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
