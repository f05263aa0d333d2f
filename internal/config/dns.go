package config

import (
	"fmt"
	"net/netip"
)

// dnsNames checks the names of a dns source, each where it is written.
func (v *validator) dnsNames(path string, names []string) []string {
	var out []string
	for i, n := range names {
		if !isDNSName(n) {
			v.errorf(fmt.Sprintf("%s[%d]", path, i), "%q is not a DNS name (write a host name, e.g. \"media.example.net\")", n)
			continue
		}
		out = append(out, n)
	}
	return out
}

// resolver takes an address with or without a port (53). A host name is
// refused: finding the resolver must not need a resolver.
func (v *validator) resolver(path, s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String()
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		v.errorf(path, "%q is not a resolver address (write ip:port, e.g. \"198.18.0.53:53\")", s)
		return ""
	}
	return ap.String()
}
