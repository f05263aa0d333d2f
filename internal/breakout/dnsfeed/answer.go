package dnsfeed

import (
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxCNAMEs bounds a CNAME chain, so that a loop in an answer ends.
const maxCNAMEs = 8

// addresses returns the addresses of type qtype that r gives for name,
// following the CNAME chain from name through the answer section, and the
// shortest TTL along the chain. Records for other owners (a resolver's
// extras) are ignored, as are addresses no route should point at: a
// sinkhole's 0.0.0.0 or 127.0.0.1, link-local, multicast.
func addresses(r *dns.Msg, name string, qtype uint16) ([]netip.Addr, time.Duration) {
	owner, ttl := dns.CanonicalName(name), uint32(0)
	first := true
	keep := func(t uint32) {
		if first || t < ttl {
			ttl, first = t, false
		}
	}
	for range maxCNAMEs {
		c := cnameOf(r.Answer, owner)
		if c == nil {
			break
		}
		owner = dns.CanonicalName(c.Target)
		keep(c.Hdr.Ttl)
	}
	var out []netip.Addr
	for _, rr := range r.Answer {
		h := rr.Header()
		if h.Rrtype != qtype || !strings.EqualFold(h.Name, owner) {
			continue
		}
		a, ok := addrOf(rr)
		if !ok || !a.IsGlobalUnicast() {
			continue
		}
		out = append(out, a)
		keep(h.Ttl)
	}
	if len(out) == 0 {
		return nil, 0
	}
	return out, time.Duration(ttl) * time.Second
}

func cnameOf(rrs []dns.RR, owner string) *dns.CNAME {
	for _, rr := range rrs {
		if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, owner) {
			return c
		}
	}
	return nil
}

// addrOf reads an A or AAAA record; an IPv4-mapped AAAA is not an IPv6 host.
func addrOf(rr dns.RR) (netip.Addr, bool) {
	switch rr := rr.(type) {
	case *dns.A:
		a, ok := netip.AddrFromSlice(rr.A.To4())
		return a, ok
	case *dns.AAAA:
		a, ok := netip.AddrFromSlice(rr.AAAA.To16())
		return a, ok && !a.Is4In6()
	}
	return netip.Addr{}, false
}

// hostPrefix is the host route of a.
func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
