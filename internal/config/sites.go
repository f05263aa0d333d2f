package config

import (
	"fmt"
	"strconv"
)

// validateSites checks a hub's [[edge]] tables, one per edge site it
// serves, and that every [[tunnel]] names one of them; without [[edge]]
// tables [bgp] peer_asn and accept describe the one edge site.
func validateSites(v *validator, raw *rawFile, c *Config) {
	if v.ix.bad["edge"] {
		return
	}
	if len(raw.Edges) == 0 {
		if c.Role == RoleHub {
			c.Sites = []EdgeSite{{ASN: c.BGP.PeerASN, Accept: c.BGP.Accept}}
			for i, t := range raw.Tunnel {
				if v.has(fmt.Sprintf("tunnel[%d].edge", i)) {
					v.errorf(fmt.Sprintf("tunnel[%d].edge", i), "%q names a site, but there are no [[edge]] tables (add one [[edge]] per edge site with its name, asn and accept, or remove edge)", t.Edge)
				}
			}
		}
		return
	}
	if !v.sectionCount("edge", len(raw.Edges), c.Role, RoleHub, "an edge lists its hubs as [[hub]] tables") {
		return
	}
	var lans []tunnelPrefix
	for i, s := range raw.Edges {
		site := v.site(i, s, c, &lans)
		c.Sites = append(c.Sites, site)
		c.BGP.Accept = append(c.BGP.Accept, site.Accept...)
	}
	v.tunnelSites(raw, c)
}

// site validates one [[edge]]: an edge site's AS and LAN prefixes, which
// must not overlap another site's, or one site could take the other's
// traffic.
func (v *validator) site(i int, s rawSite, c *Config, lans *[]tunnelPrefix) EdgeSite {
	p := fmt.Sprintf("edge[%d]", i)
	var site EdgeSite
	if v.required(p, "name", `name the edge site, e.g. name = "home"`) && v.checkName(p+".name", s.Name) &&
		v.unique("edge.name", strconv.Quote(s.Name), claim{p + ".name", true}, "name", "give each [[edge]] its own name") {
		site.Name = s.Name
	}
	if v.required(p, "asn", "add the edge site's AS number, e.g. asn = 64512") {
		switch {
		case s.ASN < 1 || s.ASN > 4294967294:
			v.errorf(p+".asn", "%d is not a usable AS number (use 1 to 4294967294)", s.ASN)
		case uint32(s.ASN) == c.ASN:
			v.errorf(p+".asn", "%d is this hub's own asn (the sessions are eBGP: give the edge site another AS)", s.ASN)
		default:
			site.ASN = uint32(s.ASN)
		}
	}
	if v.required(p, "accept", `list the edge site's LAN prefixes, e.g. accept = ["198.18.10.0/24"]`) {
		site.Accept = v.prefixList(p+".accept", s.Accept, nil)
		for j, q := range site.Accept {
			path := fmt.Sprintf("%s.accept[%d]", p, j)
			for _, o := range *lans {
				if q.Overlaps(o.prefix) && parentPath(parentPath(o.path)) != p {
					v.errorf(path, "%s overlaps %s of %s; each site's sessions may announce only its own LAN, so sites' prefixes must not overlap", q, o.prefix, parentPath(parentPath(o.path)))
					break
				}
			}
			*lans = append(*lans, tunnelPrefix{prefix: q, path: path})
		}
	}
	return site
}

// tunnelSites checks that each [[tunnel]] names an [[edge]].
func (v *validator) tunnelSites(raw *rawFile, c *Config) {
	known := map[string]bool{}
	for _, s := range c.Sites {
		known[s.Name] = true
	}
	for i, t := range raw.Tunnel {
		p := fmt.Sprintf("tunnel[%d]", i)
		switch {
		case !v.has(p + ".edge"):
			v.errorAt(v.at(p), p+`: with [[edge]] tables each [[tunnel]] names its edge site, e.g. edge = "home"`)
		case !known[t.Edge] && t.Edge != "":
			v.errorf(p+".edge", "%q is not the name of an [[edge]]", t.Edge)
		}
	}
}

// bgpPeerASN reads [bgp] peer_asn, which is needed unless every peer's AS is
// written elsewhere: per [[hub]] on an edge, per [[edge]] on a hub.
func (v *validator) bgpPeerASN(raw *rawFile, c *Config) {
	b := raw.BGP
	need := !(c.Role == RoleEdge && len(raw.Hubs) > 0) && !(c.Role == RoleHub && len(raw.Edges) > 0)
	if c.Role == RoleHub && len(raw.Edges) > 0 && v.has("bgp.peer_asn") {
		v.errorf("bgp.peer_asn", "with [[edge]] tables each site has its own asn: move peer_asn into the [[edge]] tables")
		return
	}
	if !need && !v.has("bgp.peer_asn") {
		return
	}
	if v.required("bgp", "peer_asn", "add the other site's AS number under [bgp], e.g. peer_asn = 64513") {
		if b.PeerASN < 1 || b.PeerASN > 4294967294 {
			v.errorf("bgp.peer_asn", "%d is not a usable AS number (use 1 to 4294967294)", b.PeerASN)
		} else if uint32(b.PeerASN) == c.ASN {
			v.errorf("bgp.peer_asn", "%d is this site's own asn (the sessions are eBGP: give the hub and the edge different AS numbers)", b.PeerASN)
		} else {
			c.BGP.PeerASN = uint32(b.PeerASN)
		}
	}
}

// hubAccept reads a hub's [bgp] accept, needed unless [[edge]] tables give
// each site's.
func (v *validator) hubAccept(raw *rawFile, c *Config) {
	if len(raw.Edges) > 0 {
		if v.has("bgp.accept") {
			v.errorf("bgp.accept", "with [[edge]] tables each site has its own accept list: move these prefixes into the [[edge]] they belong to")
		}
		return
	}
	if v.required("bgp", "accept", `list the edge's LAN prefixes the hub may accept, e.g. accept = ["198.18.10.0/24"]`) {
		c.BGP.Accept = v.prefixList("bgp.accept", raw.BGP.Accept, nil)
	}
}

// validateLastResort checks where the last-resort default routes go: the breakout
// gateway or an uplink's.
func validateLastResort(v *validator, raw *rawFile, c *Config) {
	const path = "ecmp.last_resort"
	if !v.has(path) || raw.ECMP.LastResort == "off" {
		return
	}
	s := raw.ECMP.LastResort
	switch {
	case c.Role != RoleEdge:
		return // reported with [ecmp]
	case s == LastResortBreakout:
		if !c.Breakout.Enabled() {
			v.errorf(path, `"breakout" needs [breakout] with its gateway (the home 5G router), or name an [[uplink]] instead`)
			return
		}
		c.ECMP.LastResort = s
	default:
		if _, ok := uplinkNamed(c.Uplinks, s); !ok {
			v.errorf(path, "%q is neither \"off\", \"breakout\" nor the name of an [[uplink]] (known: %s)", s, uplinkNames(c.Uplinks))
			return
		}
		c.ECMP.LastResort = s
	}
}
