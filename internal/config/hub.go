package config

import (
	"fmt"
	"strconv"
)

func validateHub(v *validator, raw *rawFile, c *Config) {
	if v.ix.bad["hub"] {
		return
	}
	_, written := v.ix.pos["hub"]
	if _, array := v.ix.pos["hub[0]"]; array {
		written = false // [[hub]]: an edge's hubs, checked with them
	}
	switch {
	case written && c.Role == RoleEdge:
		v.errorAt(v.at("hub"), `wrong role: [hub] belongs in a role = "hub" file and this one has role = "edge" (remove it, or set role = "hub")`)
	case c.Role == RoleHub:
		if v.required("hub", "public_interface", `name the VPS's public interface under [hub], e.g. public_interface = "eth0"`) &&
			v.checkIfName("hub.public_interface", raw.Hub.PublicInterface) {
			c.Hub.PublicInterface = raw.Hub.PublicInterface
		}
	}
}

func validateTunnels(v *validator, raw *rawFile, c *Config) {
	if v.ix.bad["tunnel"] {
		return
	}
	if !v.sectionCount("tunnel", len(raw.Tunnel), c.Role, RoleHub,
		"the edge takes one [[uplink]] per carrier instead") {
		return
	}
	var seen []tunnelPrefix
	for i, t := range raw.Tunnel {
		c.Tunnels = append(c.Tunnels, v.tunnel(i, t, c.Hub.PublicInterface, &seen))
	}
}

// tunnel validates one [[tunnel]] and fills in its defaults.
func (v *validator) tunnel(i int, t rawTunnel, public string, seen *[]tunnelPrefix) Tunnel {
	p := fmt.Sprintf("tunnel[%d]", i)
	tu := Tunnel{Site: t.Edge}
	if v.required(p, "name", `name the edge uplink this tunnel serves, e.g. name = "docomo"`) && v.checkName(p+".name", t.Name) {
		if v.unique("tunnel.name/"+t.Edge, strconv.Quote(t.Name), claim{p + ".name", true}, "name", perSite("each edge uplink gets one [[tunnel]]", t.Edge)) {
			tu.Name = t.Name // left empty on a clash, so the derived interface name does not clash too
		}
	}
	tu.Interface = v.tunnelName(p, "wgh-", tu.Name, t.TunnelInterface)
	if tu.Interface != "" && tu.Interface == public {
		v.errorf(p+".tunnel_interface", "%q is the hub's public_interface (a tunnel needs a name of its own)", tu.Interface)
	}
	if v.required(p, "listen_port", "add the UDP port this tunnel listens on, e.g. listen_port = 51821 (the edge uplink's endpoint port)") {
		tu.ListenPort = v.listenPort(p+".listen_port", t.ListenPort)
	}
	if v.required(p, "tunnel_address", `add this end's tunnel address, e.g. tunnel_address = ["198.18.100.1/31"]`) {
		addrs := v.checkTunnelAddresses(p+".tunnel_address", t.TunnelAddress)
		v.noOverlap(seen, addrs)
		tu.Addresses = prefixes(addrs)
	}
	if v.required(p, "public_key", "add the edge's public key, from wg pubkey < the edge's private key file") {
		tu.PublicKey = v.checkPublicKey(p+".public_key", t.PublicKey, "the edge")
	}
	tu.Liveness = v.choice(p+".liveness", t.Liveness, "", LivenessFast, LivenessFrugal)
	return tu
}

func (v *validator) listenPort(path string, n int64) int {
	if n < 1 || n > 65535 {
		v.errorf(path, "%d is not a port number (use 1 to 65535, e.g. 51821)", n)
		return 0
	}
	v.unique("listen_port", strconv.FormatInt(n, 10), claim{path, true}, "listen_port", "each tunnel needs its own UDP port")
	return int(n)
}

// perSite adds "of site X" to a hint on a hub with [[edge]] tables.
func perSite(hint, site string) string {
	if site == "" {
		return hint
	}
	return hint + " of edge " + strconv.Quote(site)
}
