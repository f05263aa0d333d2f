package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// maxRate bounds [[publish]] rate: new connections a second.
const maxRate = 1_000_000

// validatePublish checks the [[publish]] tables: on the hub what it
// publishes, on the edge the same services so that its firewall lets them
// in. The public ports must not collide with anything else the hub listens
// on, and the target must be in a LAN the hub accepts from its edges.
func validatePublish(v *validator, raw *rawFile, c *Config) {
	if v.ix.bad["publish"] {
		return
	}
	taken := v.hubPorts(c)
	for i, r := range raw.Publish {
		c.Publish = append(c.Publish, v.publish(i, r, c, taken))
	}
}

// portUse is a port range of one protocol and what holds it.
type portUse struct {
	proto  string
	lo, hi int
	what   string
}

// hubPorts lists what the hub already listens on: WireGuard, BGP, the
// metrics and gRPC APIs.
func (v *validator) hubPorts(c *Config) []portUse {
	var out []portUse
	if c.Role != RoleHub {
		return nil
	}
	for i, t := range c.Tunnels {
		out = append(out, portUse{"udp", t.ListenPort, t.ListenPort, fmt.Sprintf("tunnel[%d].listen_port (WireGuard)", i)})
	}
	out = append(out, portUse{"tcp", c.BGP.Port, c.BGP.Port, "BGP ([bgp] port)"})
	for _, a := range []struct{ addr, what string }{{c.API.Metrics, "api.metrics"}, {c.BGP.GRPC, "bgp.grpc"}} {
		if _, port, err := net.SplitHostPort(a.addr); err == nil {
			if n, err := strconv.Atoi(port); err == nil {
				out = append(out, portUse{"tcp", n, n, a.what})
			}
		}
	}
	return out
}

// publish validates one [[publish]].
func (v *validator) publish(i int, r rawPublish, c *Config, taken []portUse) Publish {
	p := fmt.Sprintf("publish[%d]", i)
	var pub Publish
	if v.required(p, "name", `name the service, e.g. name = "https"`) && v.checkName(p+".name", r.Name) &&
		v.unique("publish.name", strconv.Quote(r.Name), claim{p + ".name", true}, "name", "give each [[publish]] its own name") {
		pub.Name = r.Name
	}
	if v.required(p, "protocol", `say protocol = "tcp" or "udp"`) {
		if r.Protocol != "tcp" && r.Protocol != "udp" {
			v.errorf(p+".protocol", "%q is not \"tcp\" or \"udp\"", r.Protocol)
		} else {
			pub.Protocol = r.Protocol
		}
	}
	pub.Port, pub.PortEnd = v.publishPorts(p, r)
	if pub.Port != 0 && pub.Protocol != "" && c.Role == RoleHub {
		v.portFree(p, pub, taken)
	}
	if v.required(p, "to", `add the home server's address, and port, e.g. to = "198.18.10.2:443"`) {
		pub.To = v.publishTarget(p+".to", r.To, true, c)
	}
	if v.has(p + ".to6") {
		pub.To6 = v.publishTarget(p+".to6", r.To6, false, c)
	}
	if pub.To.Port() != 0 && pub.Port != pub.PortEnd {
		v.errorf(p+".to", "a port range (%d-%d) goes to the same ports at home: write to without a port, e.g. %q", pub.Port, pub.PortEnd, pub.To.Addr().String())
	}
	pub.Allow = v.prefixList(p+".allow", r.Allow, nil)
	if v.has(p + ".rate") {
		if r.Rate < 1 || r.Rate > maxRate {
			v.errorf(p+".rate", "%d is out of range (new connections a second, 1 to %d; leave it out for no limit)", r.Rate, maxRate)
		} else {
			pub.Rate = int(r.Rate)
		}
	}
	return pub
}

// publishPorts reads port and port_end: one port, or an inclusive range.
func (v *validator) publishPorts(p string, r rawPublish) (int, int) {
	if !v.required(p, "port", "add the public port on the hub, e.g. port = 443 (port_end = N makes it a range)") {
		return 0, 0
	}
	lo := v.port(p+".port", r.Port)
	hi := lo
	if v.has(p + ".port_end") {
		hi = v.port(p+".port_end", r.PortEnd)
		if hi != 0 && lo != 0 && hi < lo {
			v.errorf(p+".port_end", "%d is below port %d (the range is port..port_end, inclusive)", hi, lo)
			return 0, 0
		}
	}
	if lo == 0 || hi == 0 {
		return 0, 0
	}
	return lo, hi
}

// portFree reports a public port range that collides with something the
// hub listens on, or another [[publish]], and claims it.
func (v *validator) portFree(p string, pub Publish, taken []portUse) {
	for _, u := range append(taken, v.published...) {
		if u.proto == pub.Protocol && pub.Port <= u.hi && u.lo <= pub.PortEnd {
			v.errorf(p+".port", "%s %s collides with %s %s (choose a port nothing else on the hub listens on)", pub.Protocol, portRange(pub.Port, pub.PortEnd), u.what, portRange(u.lo, u.hi))
			return
		}
	}
	v.published = append(v.published, portUse{pub.Protocol, pub.Port, pub.PortEnd, p})
}

func portRange(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// publishTarget reads to or to6: an address of the family, with an
// optional port, inside a LAN prefix the site's BGP sessions carry.
func (v *validator) publishTarget(path, s string, want4 bool, c *Config) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, aerr := netip.ParseAddr(strings.Trim(s, "[]"))
		if aerr != nil {
			v.errorf(path, "%q is not an address or address:port (e.g. \"198.18.10.2:443\" or \"[2001:db8:10::2]:443\")", s)
			return netip.AddrPort{}
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	a := ap.Addr().Unmap()
	if a.Is4() != want4 {
		fam := map[bool]string{true: "IPv4 (to)", false: "IPv6 (to6)"}[want4]
		v.errorf(path, "%s is not an %s address", a, fam)
		return netip.AddrPort{}
	}
	if lan := lanPrefixes(c); !coveredBy(a, lan) {
		v.errorf(path, "%s is outside the LAN prefixes (%s): a published service must be at home, behind the tunnels", a, joinPrefixes(lan))
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, ap.Port())
}

// lanPrefixes: what the hub accepts from its edges, what the edge
// announces.
func lanPrefixes(c *Config) []netip.Prefix {
	if c.Role == RoleHub {
		return c.BGP.Accept
	}
	return c.BGP.Originate
}

func coveredBy(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
