package bgp

import (
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	bgppkt "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// pathMaker builds the API paths of one family and next hop in GoBGP's
// binary form (wire-format NLRI and attributes), which it decodes far
// more cheaply than protobuf Any values. The attributes are serialised
// once and shared by every path.
type pathMaker struct {
	family *api.Family
	attrs  [][]byte
}

// newPathMaker sets the next hop explicitly (GoBGP keeps a local path's
// next hop on eBGP unless it is unspecified): IPv4 in NEXT_HOP, IPv6 in
// MP_REACH_NLRI.
func newPathMaker(nextHop netip.Addr) (pathMaker, error) {
	origin := bgppkt.NewPathAttributeOrigin(bgppkt.BGP_ORIGIN_ATTR_TYPE_IGP)
	var attrs []bgppkt.PathAttributeInterface
	if nextHop.Is4() {
		attrs = []bgppkt.PathAttributeInterface{origin, bgppkt.NewPathAttributeNextHop(nextHop.String())}
	} else {
		// GoBGP refuses an MP_REACH_NLRI without NLRI and rebuilds the
		// attribute around each path's own prefix, so one placeholder
		// prefix serves every path.
		placeholder := bgppkt.NewIPv6AddrPrefix(0, "::")
		mp := bgppkt.NewPathAttributeMpReachNLRI(nextHop.String(), []bgppkt.AddrPrefixInterface{placeholder})
		attrs = []bgppkt.PathAttributeInterface{origin, mp}
	}
	m := pathMaker{family: family(nextHop)}
	for _, a := range attrs {
		b, err := a.Serialize()
		if err != nil {
			return pathMaker{}, fmt.Errorf("serialise path attributes for next hop %v: %w", nextHop, err)
		}
		m.attrs = append(m.attrs, b)
	}
	return m, nil
}

// withdrawMaker builds withdrawals, which carry no attributes.
func withdrawMaker(is4 bool) pathMaker {
	if is4 {
		return pathMaker{family: family(netip.IPv4Unspecified())}
	}
	return pathMaker{family: family(netip.IPv6Unspecified())}
}

func (m pathMaker) path(p netip.Prefix, withdraw bool) *api.Path {
	dst := new(api.Path)
	m.fill(dst, p, withdraw, nil)
	return dst
}

// fill makes dst the path for p, its NLRI appended to buf (returned), so
// a list's paths and NLRI can be used again for the next list.
func (m pathMaker) fill(dst *api.Path, p netip.Prefix, withdraw bool, buf []byte) []byte {
	start := len(buf)
	buf = appendNLRI(buf, p)
	dst.NlriBinary = buf[start:len(buf):len(buf)]
	dst.PattrsBinary, dst.Family, dst.IsWithdraw = m.attrs, m.family, withdraw
	return buf
}

// appendNLRI appends a prefix as in an UPDATE: length in bits, then only
// the bytes that length covers.
func appendNLRI(b []byte, p netip.Prefix) []byte {
	n := (p.Bits() + 7) / 8
	b = append(b, byte(p.Bits()))
	if p.Addr().Is4() {
		a := p.Addr().As4()
		return append(b, a[:n]...)
	}
	a := p.Addr().As16()
	return append(b, a[:n]...)
}
