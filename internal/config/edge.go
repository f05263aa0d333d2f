package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"
)

// maxTunnels bounds uplinks and hub tunnels: three carriers are the design
// point, eight leave room without letting a typo create hundreds.
const maxTunnels = 8

// MaxHubs bounds an edge's [[hub]] tables, as maxTunnels its uplinks.
const MaxHubs = maxTunnels

func validateUplinks(v *validator, raw *rawFile, c *Config) {
	if v.ix.bad["uplink"] {
		return
	}
	if !v.sectionCount("uplink", len(raw.Uplink), c.Role, RoleEdge,
		"the hub takes one [[tunnel]] per edge uplink instead") {
		return
	}
	underlay := map[string]string{}
	for i, u := range raw.Uplink {
		if _, ok := underlay[u.Interface]; !ok && u.Interface != "" {
			underlay[u.Interface] = fmt.Sprintf("uplink[%d].interface", i)
		}
	}
	v.underlay = underlay
	legacy := len(raw.Hubs) == 0
	var seen []tunnelPrefix
	for i, u := range raw.Uplink {
		c.Uplinks = append(c.Uplinks, v.uplink(i, u))
		p := fmt.Sprintf("uplink[%d]", i)
		if legacy {
			c.EdgeTunnels = append(c.EdgeTunnels, v.uplinkTunnel(p, u, c.Uplinks[i], &seen))
		} else {
			v.noTunnelKeys(p)
		}
	}
	v.tunnelPrefixes = seen
}

// tunnelKeys are the keys of the one-hub form: with [[hub]] tables they
// belong in each hub's [[hub.tunnel]].
var tunnelKeys = []string{"tunnel_interface", "tunnel_address", "endpoint", "public_key"}

func (v *validator) noTunnelKeys(p string) {
	for _, k := range tunnelKeys {
		if v.has(p + "." + k) {
			v.errorf(p+"."+k, "with [[hub]] tables the tunnels are written per hub: move %s into a [[hub.tunnel]] with uplink = the uplink's name (the endpoint's host goes to the [[hub]]'s endpoint, its port to the tunnel's port, public_key to the [[hub]])", k)
		}
	}
}

// sectionCount checks that an array of tables appears only in its role's
// file, between 1 and maxTunnels times. It returns false when the entries
// are not worth checking further.
func (v *validator) sectionCount(name string, n int, role, owner Role, instead string) bool {
	header := "[[" + name + "]]"
	switch {
	case n > 0 && role != "" && role != owner:
		v.errorAt(v.at(name), fmt.Sprintf("wrong role: %s belongs in a role = %q file and this one has role = %q (%s)", header, owner, role, instead))
		return false
	case n == 0 && role == owner:
		v.errorAt(v.at("role"), fmt.Sprintf("role = %q needs at least one %s table (one per tunnel; see configs/%s.toml)", role, header, role))
	case n > maxTunnels:
		v.errorAt(v.at(fmt.Sprintf("%s[%d]", name, maxTunnels)), fmt.Sprintf("too many %s tables: %d (at most %d)", header, n, maxTunnels))
	}
	return true
}

// uplink validates one [[uplink]]'s carrier and fills in its defaults.
func (v *validator) uplink(i int, u rawUplink) Uplink {
	p := fmt.Sprintf("uplink[%d]", i)
	up := Uplink{Priority: RulePriority + 1 + i}
	if v.required(p, "name", `name the carrier, e.g. name = "docomo"`) && v.checkName(p+".name", u.Name) {
		if v.unique("uplink.name", strconv.Quote(u.Name), claim{p + ".name", true}, "name", "give each uplink its own name") {
			up.Name = u.Name // left empty on a clash, so the derived interface name does not clash too
		}
	}
	if v.required(p, "interface", `name the interface towards the carrier, e.g. interface = "wwan0"`) &&
		v.checkIfName(p+".interface", u.Interface) {
		up.Interface = u.Interface
	}
	if v.has(p + ".gateway") {
		up.Gateway = v.gateway(p+".gateway", u.Gateway)
	}
	up.Weight = v.weight(p+".weight", u.Weight)
	up.Keepalive = v.keepalive(p+".persistent_keepalive", u.PersistentKeepalive)
	up.Liveness = v.choice(p+".liveness", u.Liveness, "", LivenessFast, LivenessFrugal)
	up.FwMark = v.fwmark(p+".fwmark", u.FwMark, i)
	up.Table = v.table(p+".table", u.Table, i)
	up.Budget = v.budget(p, u, up.Weight)
	return up
}

// uplinkTunnel validates the tunnel keys of an [[uplink]] in the one-hub
// form: its tunnel to the one hub.
func (v *validator) uplinkTunnel(p string, u rawUplink, up Uplink, seen *[]tunnelPrefix) EdgeTunnel {
	t := EdgeTunnel{Name: up.Name, Uplink: up.Name, Hub: DefaultHub, Keepalive: up.Keepalive, FwMark: up.FwMark}
	t.Interface = v.tunnelName(p, "wg-", up.Name, u.TunnelInterface)
	if other, ok := v.underlay[t.Interface]; ok && t.Interface != "" {
		v.errorf(p+".tunnel_interface", "%q is the underlay interface of %s (a tunnel needs a name of its own, e.g. %q)", t.Interface, parentPath(other), "wg-"+up.Name)
	}
	if v.required(p, "tunnel_address", `add this end's tunnel address, e.g. tunnel_address = ["198.18.100.0/31"]`) {
		addrs := v.checkTunnelAddresses(p+".tunnel_address", u.TunnelAddress)
		v.noOverlap(seen, addrs)
		t.Addresses = prefixes(addrs)
	}
	if v.required(p, "endpoint", `add the hub's address and this tunnel's port, e.g. endpoint = "hub.example.net:51821"`) &&
		v.checkEndpoint(p+".endpoint", u.Endpoint) {
		t.Endpoint = u.Endpoint
		v.unique("endpoint", strconv.Quote(u.Endpoint), claim{p + ".endpoint", true}, "endpoint",
			"each uplink needs its own hub port, served by one [[tunnel]] on the hub")
	}
	if v.required(p, "public_key", "add the hub's public key for this tunnel, from wg pubkey on the hub") {
		t.PublicKey = v.checkPublicKey(p+".public_key", u.PublicKey, "the hub")
	}
	return t
}

func (v *validator) gateway(path, s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil || a.IsUnspecified() || a.IsMulticast() {
		v.errorf(path, "%q is not a gateway address (write the carrier router's IP, or leave gateway out to learn it from the interface)", s)
		return netip.Addr{}
	}
	return a
}

func (v *validator) weight(path string, n int64) int {
	switch {
	case !v.has(path):
		return 1
	case n <= 0:
		v.errorf(path, "must be > 0 (it is the ECMP weight; use 1 for an equal share)")
	case n > 255:
		v.errorf(path, "%d is too large (at most 255: the kernel's next-hop weights go to 256; scale all weights down together)", n)
	default:
		return int(n)
	}
	return 1
}

// tunnelName returns the tunnel interface: as written, or prefix+name.
// It must be unique because /var/run/wireguard is shared by every network
// namespace of the machine.
func (v *validator) tunnelName(p, prefix, name, written string) string {
	path := p + ".tunnel_interface"
	ifname, explicit := written, v.has(path)
	if !explicit {
		if name == "" || v.ix.bad[path] {
			return ""
		}
		ifname = prefix + name
		if len(ifname) > maxIfName {
			v.errorf(p+".name", "the default tunnel interface %q is longer than %d bytes (shorten the name or set tunnel_interface)", ifname, maxIfName)
			return ""
		}
	} else if !v.checkIfName(path, ifname) {
		return ""
	}
	v.unique("tunnel_interface", strconv.Quote(ifname), claim{path, explicit}, "tunnel interface", "each tunnel needs its own interface name")
	return ifname
}

func (v *validator) keepalive(path string, n int64) time.Duration {
	if !v.has(path) {
		return 25 * time.Second
	}
	if n < 0 || n > 65535 {
		v.errorf(path, "%d is out of range (seconds, 0 to 65535; 0 turns keepalive off, 25 keeps carrier NAT mappings open)", n)
		return 25 * time.Second
	}
	return time.Duration(n) * time.Second
}

func (v *validator) fwmark(path string, n int64, i int) uint32 {
	explicit := v.has(path)
	if !explicit {
		n = int64(FwMarkBase + 1 + i)
	} else if n < 1 || n > 0xffffffff {
		v.errorf(path, "%d is out of range (1 to 0xffffffff; leave it out for the default %#x)", n, FwMarkBase+1+i)
		return 0
	}
	v.unique("fwmark", fmt.Sprintf("%#x", n), claim{path, explicit}, "fwmark",
		"each uplink needs its own fwmark (leave fwmark out for the default)")
	return uint32(n)
}

// table returns the uplink's routing table. 253, 254 and 255 are the
// kernel's default, main and local tables, which uplinkd must not own.
func (v *validator) table(path string, n int64, i int) int {
	explicit := v.has(path)
	if !explicit {
		n = int64(TableBase + 1 + i)
	} else {
		switch {
		case n < 1 || n > maxTable:
			v.errorf(path, "%d is out of range (1 to %d; leave it out for the default %d)", n, maxTable, TableBase+1+i)
			return 0
		case n >= 253 && n <= 255:
			v.errorf(path, "%d is the kernel's %s table (choose another number; leave it out for the default %d)", n, reservedTables[n], TableBase+1+i)
			return 0
		}
	}
	v.unique("table", strconv.FormatInt(n, 10), claim{path, explicit}, "table",
		"each uplink needs its own routing table (leave table out for the default)")
	return int(n)
}

var reservedTables = map[int64]string{253: "default", 254: "main", 255: "local"}

// maxTable is the highest routing table uplinkd can use: the kernel takes
// 32 bits, netlink's int holds only 31 on a 32-bit router (armv7, mips).
const maxTable = min(0xffffffff, math.MaxInt)
