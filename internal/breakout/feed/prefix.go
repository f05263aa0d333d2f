package feed

import (
	"fmt"
	"net/netip"
	"strings"
)

// parsePrefix accepts a CIDR prefix, or a bare address when bare is set
// (which becomes a /32 or /128). Host bits must be clear: "10.1.2.3/8" is a
// typo or a corrupt feed, and silently masking it would route a network the
// publisher never named.
func parsePrefix(s string, bare bool) (netip.Prefix, error) {
	if bare && !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid address %q", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q has a zone", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid prefix %q", s)
	}
	return checkMasked(p)
}

func checkMasked(p netip.Prefix) (netip.Prefix, error) {
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("prefix %s has host bits set (network is %s)", p, m)
	}
	return p, nil
}
