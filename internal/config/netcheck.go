package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// maxIfName is IFNAMSIZ-1: Linux truncates nothing, it refuses longer names.
const maxIfName = 15

// checkIfName applies the kernel's dev_valid_name rules.
func (v *validator) checkIfName(path, name string) bool {
	switch {
	case name == "":
		v.errorf(path, "must not be empty (name a network interface, e.g. \"wwan0\")")
	case len(name) > maxIfName:
		v.errorf(path, "%q is %d bytes; Linux interface names are at most %d (choose a shorter name)", name, len(name), maxIfName)
	case name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\r\f\v"):
		v.errorf(path, "%q is not a valid Linux interface name (no '/', ':' or blanks)", name)
	default:
		return true
	}
	return false
}

// checkPublicKey parses a peer's public key.
func (v *validator) checkPublicKey(path, s, whose string) [32]byte {
	k, err := wgtypes.ParseKey(strings.TrimSpace(s))
	if err != nil {
		v.errorf(path, "not a WireGuard public key (expected 44 characters of base64 for 32 bytes: the output of wg pubkey on %s)", whose)
		return [32]byte{}
	}
	return k
}

// checkEndpoint checks host:port, where host is an IP address or a DNS
// name and an IPv6 address is bracketed.
func (v *validator) checkEndpoint(path, s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		v.errorf(path, "%q is not host:port (%s)", s, endpointHint(s, err))
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.errorf(path, "port %q is not a port number (use 1 to 65535, the hub's listen_port for this tunnel)", port)
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if !isDNSName(host) {
		v.errorf(path, "host %q is neither an IP address nor a DNS name (e.g. \"hub.example.net:51821\")", host)
		return false
	}
	return true
}

func endpointHint(s string, err error) string {
	if ae, ok := err.(*net.AddrError); ok {
		switch {
		case ae.Err == "missing port in address":
			return fmt.Sprintf("no port; write host:port, e.g. %q", s+":51821")
		case ae.Err == "too many colons in address":
			return "put an IPv6 address in brackets, e.g. \"[2001:db8::1]:51821\""
		}
	}
	return `write host:port, e.g. "hub.example.net:51821"`
}

// isDNSName checks the shape of a host name (RFC 1123 labels).
func isDNSName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// tunnelPrefix is one checked tunnel_address, kept to find overlaps.
type tunnelPrefix struct {
	prefix netip.Prefix
	path   string
}

// checkTunnelAddresses parses a tunnel_address list: exactly one IPv4
// point-to-point prefix and at most one IPv6 one, each holding a host
// address. The prefixes are kept as written (address/bits), as the
// interface gets them.
func (v *validator) checkTunnelAddresses(path string, list []string) []tunnelPrefix {
	var out []tunnelPrefix
	var v4, v6 string // paths of the first of each family
	for i, s := range list {
		ep := fmt.Sprintf("%s[%d]", path, i)
		p, ok := v.tunnelPrefix(ep, s)
		if !ok {
			continue
		}
		first := &v4
		if p.Addr().Is6() {
			first = &v6
		}
		if *first != "" {
			v.errorf(ep, "%s is a second IPv%s prefix; %s already has one (a tunnel takes one IPv4 and at most one IPv6 prefix)", p, family(p), *first)
			continue
		}
		*first = ep
		out = append(out, tunnelPrefix{prefix: p, path: ep})
	}
	if v4 == "" && len(out) == len(list) { // no IPv4 at all, and not because one was bad
		v.errorf(path, "needs one IPv4 prefix, /31 or /30 (e.g. [\"198.18.100.0/31\"]; BGP runs over it)")
	}
	return out
}

func family(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "4"
	}
	return "6"
}

// tunnelPrefix checks one entry of tunnel_address.
func (v *validator) tunnelPrefix(path, s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		v.errorf(path, "%q is not an address with a prefix length (e.g. \"198.18.100.0/31\" or \"2001:db8:100::/127\")", s)
		return p, false
	}
	bits, max := p.Bits(), p.Addr().BitLen()
	switch {
	case p.Addr().Is4In6():
		v.errorf(path, "%q is an IPv4-mapped IPv6 address (write IPv4 as a.b.c.d/31)", s)
		return p, false
	case p.Addr().Is4() && bits != 31 && bits != 30:
		v.errorf(path, "%s is a /%d; an IPv4 tunnel prefix must be /31 or /30 (a point-to-point link, e.g. 198.18.100.0/31)", p, bits)
		return p, false
	case p.Addr().Is6() && (bits < 64 || bits > 127):
		v.errorf(path, "%s is a /%d; an IPv6 tunnel prefix must be /64 to /127 (e.g. 2001:db8:100::/127)", p, bits)
		return p, false
	case bits < max-1 && p.Addr() == p.Masked().Addr():
		v.errorf(path, "%s is the network address of its prefix; use a host address, e.g. %s/%d", p.Addr(), p.Addr().Next(), bits)
		return p, false
	case p.Addr().Is4() && bits < max-1 && p.Addr() == lastAddr(p):
		v.errorf(path, "%s is the broadcast address of its prefix; use a host address, e.g. %s/%d", p.Addr(), p.Addr().Prev(), bits)
		return p, false
	}
	return p, true
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// noOverlap reports any prefix of mine that overlaps one already seen.
func (v *validator) noOverlap(seen *[]tunnelPrefix, mine []tunnelPrefix) {
	for _, p := range mine {
		for _, q := range *seen {
			if p.prefix.Masked().Overlaps(q.prefix.Masked()) {
				v.errorf(p.path, "%s overlaps %s of %s; each tunnel needs its own prefix", p.prefix, q.prefix, parentPath(q.path))
				break
			}
		}
	}
	*seen = append(*seen, mine...)
}

// prefixes drops the paths.
func prefixes(list []tunnelPrefix) []netip.Prefix {
	out := make([]netip.Prefix, len(list))
	for i, p := range list {
		out[i] = p.prefix
	}
	return out
}
