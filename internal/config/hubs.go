package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// validateEdgeHubs checks an edge's [[hub]] tables and their tunnels, or
// turns the one-hub form (tunnels in the [[uplink]] tables) into one hub.
func validateEdgeHubs(v *validator, raw *rawFile, c *Config) {
	if v.ix.bad["hub"] {
		return
	}
	if len(raw.Hubs) == 0 {
		if c.Role == RoleEdge {
			c.Hubs = []HubPeer{{Name: DefaultHub, ASN: c.BGP.PeerASN, Preference: DefaultHubPreference, Weight: 1}}
		}
		return
	}
	if !v.sectionCount("hub", len(raw.Hubs), c.Role, RoleEdge,
		"a hub names its public interface in one [hub] table") {
		return
	}
	seen := v.tunnelPrefixes
	for i, h := range raw.Hubs {
		hub := v.edgeHub(i, h, c)
		c.Hubs = append(c.Hubs, hub)
		for j, t := range h.Tunnel {
			c.EdgeTunnels = append(c.EdgeTunnels, v.hubTunnel(fmt.Sprintf("hub[%d].tunnel[%d]", i, j), t, hub, c, &seen))
		}
	}
	v.tunnelPrefixes = seen
}

// edgeHub validates one [[hub]] of an edge.
func (v *validator) edgeHub(i int, h rawEdgeHub, c *Config) HubPeer {
	p := fmt.Sprintf("hub[%d]", i)
	hub := HubPeer{Preference: DefaultHubPreference, Weight: 1}
	if v.required(p, "name", `name the hub, e.g. name = "tokyo"`) && v.checkName(p+".name", h.Name) &&
		v.unique("hub.name", strconv.Quote(h.Name), claim{p + ".name", true}, "name", "give each [[hub]] its own name") {
		hub.Name = h.Name
	}
	if v.required(p, "endpoint", `add the hub's public address or DNS name, e.g. endpoint = "hub1.example.net" (the port of each tunnel is its [[hub.tunnel]]'s port)`) &&
		v.checkHost(p+".endpoint", h.Endpoint) {
		hub.Host = h.Endpoint
		v.unique("hub.endpoint", strconv.Quote(h.Endpoint), claim{p + ".endpoint", true}, "endpoint",
			"two [[hub]] tables for one VPS are one hub: merge their tunnels")
	}
	if v.required(p, "public_key", "add the hub's public key, from wg pubkey on the hub") {
		hub.PublicKey = v.checkPublicKey(p+".public_key", h.PublicKey, "the hub")
		if hub.PublicKey != ([32]byte{}) {
			v.unique("hub.public_key", strconv.Quote(strings.TrimSpace(h.PublicKey)), claim{p + ".public_key", true}, "public key",
				"each VPS has its own private key: copy the right hub's wg pubkey")
		}
	}
	hub.ASN = v.hubASN(p, h.ASN, c)
	if v.has(p + ".preference") {
		if h.Preference < 1 || h.Preference > MaxHubPreference {
			v.errorf(p+".preference", "%d is out of range (1 to %d; the highest preference with a live tunnel carries traffic, equal ones share it, default %d)", h.Preference, MaxHubPreference, DefaultHubPreference)
		} else {
			hub.Preference = int(h.Preference)
		}
	}
	if v.has(p + ".weight") {
		if h.Weight < 1 || h.Weight > MaxHubWeight {
			v.errorf(p+".weight", "%d is out of range (1 to %d; it multiplies each carrier's weight)", h.Weight, MaxHubWeight)
		} else {
			hub.Weight = int(h.Weight)
		}
	}
	if len(h.Tunnel) == 0 {
		v.errorAt(v.at(p), fmt.Sprintf("%s: [[hub]] %q has no tunnels (add one [[hub.tunnel]] per uplink, with uplink, port and tunnel_address)", p, h.Name))
	}
	return hub
}

// hubASN is a hub's AS: its own asn, or [bgp] peer_asn.
func (v *validator) hubASN(p string, n int64, c *Config) uint32 {
	if !v.has(p + ".asn") {
		if c.BGP.PeerASN == 0 && !v.reported("bgp.peer_asn") {
			v.errorAt(v.at(p), p+`: no AS for this hub: add asn = the hub's AS here, or peer_asn under [bgp] for every hub`)
		}
		return c.BGP.PeerASN
	}
	switch {
	case n < 1 || n > 4294967294:
		v.errorf(p+".asn", "%d is not a usable AS number (use 1 to 4294967294)", n)
	case uint32(n) == c.ASN:
		v.errorf(p+".asn", "%d is this site's own asn (the sessions are eBGP: give the hub another AS)", n)
	default:
		return uint32(n)
	}
	return 0
}

// hubTunnel validates one [[hub.tunnel]]: one uplink's tunnel to the hub.
func (v *validator) hubTunnel(p string, t rawHubTunnel, hub HubPeer, c *Config, seen *[]tunnelPrefix) EdgeTunnel {
	var et EdgeTunnel
	if v.required(p, "uplink", `name the [[uplink]] this tunnel runs over, e.g. uplink = "docomo"`) {
		up, ok := uplinkNamed(c.Uplinks, t.Uplink)
		if !ok {
			v.errorf(p+".uplink", "%q is not the name of an [[uplink]] (known: %s)", t.Uplink, uplinkNames(c.Uplinks))
		} else if hub.Name != "" {
			et = EdgeTunnel{Name: up.Name + "@" + hub.Name, Uplink: up.Name, Hub: hub.Name,
				PublicKey: hub.PublicKey, Keepalive: up.Keepalive, FwMark: up.FwMark}
			v.unique("hub.tunnel.uplink", et.Name, claim{p + ".uplink", true}, "uplink",
				"a hub takes one tunnel per uplink")
			if w := up.Weight * hub.Weight; w > MaxNexthopWeight {
				v.errorf(p+".uplink", "the uplink's weight %d times the hub's weight %d is %d, over the kernel's %d (lower either)", up.Weight, hub.Weight, w, MaxNexthopWeight)
			}
		}
	}
	if v.required(p, "port", "add the hub's listen_port for this tunnel, e.g. port = 51821") {
		port := v.port(p+".port", t.Port)
		if port != 0 && hub.Host != "" {
			et.Endpoint = joinHostPort(hub.Host, port)
			v.unique("endpoint", strconv.Quote(et.Endpoint), claim{p + ".port", true}, "endpoint",
				"each tunnel needs its own hub port, served by one [[tunnel]] on that hub")
		}
	}
	if v.required(p, "tunnel_address", `add this end's tunnel address, e.g. tunnel_address = ["198.18.100.0/31"]`) {
		addrs := v.checkTunnelAddresses(p+".tunnel_address", t.TunnelAddress)
		v.noOverlap(seen, addrs)
		et.Addresses = prefixes(addrs)
	}
	et.Interface = v.hubTunnelName(p, et, hub, t.TunnelInterface)
	if other, ok := v.underlay[et.Interface]; ok && et.Interface != "" {
		v.errorf(p+".tunnel_interface", "%q is the underlay interface of %s (a tunnel needs a name of its own)", et.Interface, parentPath(other))
	}
	return et
}

// hubTunnelName returns the tunnel's interface: as written, or
// wg-<uplink>-<hub> when that fits in an interface name.
func (v *validator) hubTunnelName(p string, et EdgeTunnel, hub HubPeer, written string) string {
	if v.has(p+".tunnel_interface") || et.Uplink == "" || hub.Name == "" {
		return v.tunnelName(p, "", "", written)
	}
	def := "wg-" + et.Uplink + "-" + hub.Name
	if len(def) > maxIfName {
		v.errorAt(v.at(p), fmt.Sprintf("%s: the default tunnel interface %q is longer than %d bytes: set tunnel_interface here, e.g. tunnel_interface = %q", p, def, maxIfName, shortIfName(et.Uplink, hub.Name)))
		return ""
	}
	return v.tunnelName(p, "", def, "")
}

// shortIfName suggests an interface name for an uplink's tunnel to a hub
// that fits in 15 bytes.
func shortIfName(uplink, hub string) string {
	return "wg" + uplink[:min(len(uplink), 6)] + "-" + hub[:min(len(hub), 6)]
}

func joinHostPort(host string, port int) string {
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

func uplinkNamed(ups []Uplink, name string) (Uplink, bool) {
	for _, u := range ups {
		if u.Name == name && name != "" {
			return u, true
		}
	}
	return Uplink{}, false
}

func uplinkNames(ups []Uplink) string {
	var names []string
	for _, u := range ups {
		names = append(names, strconv.Quote(u.Name))
	}
	return strings.Join(names, ", ")
}

// checkHost checks a hub's endpoint host: an IP address or a DNS name,
// without a port.
func (v *validator) checkHost(path, s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if isDNSName(s) {
		return true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		v.errorf(path, "%q has a port; a [[hub]]'s endpoint is the host alone, e.g. %q (each [[hub.tunnel]] has its port)", s, host)
		return false
	}
	v.errorf(path, "%q is neither an IP address nor a DNS name (e.g. \"hub1.example.net\"; no port: each [[hub.tunnel]] has its own)", s)
	return false
}
