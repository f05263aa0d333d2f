package breakout

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Endpoint is a host:port whose addresses breakout must never take over: a
// hub's WireGuard endpoint, as the config writes it. A route that covered
// it would send the tunnel's own packets to the breakout gateway.
type Endpoint struct {
	HostPort string // "hub.example.net:51820", "198.51.100.7:51820", "[2001:db8::7]:51820"
	Label    string // what it is, e.g. "docomo hub endpoint"
}

// LookupFunc resolves a host name, as net.Resolver.LookupNetIP(ctx, "ip", host).
type LookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// EndpointGuard turns endpoints into protected host prefixes. It
// remembers what each host last resolved to, so that a name that stops
// resolving (a resolver down for a while) keeps its protection. The zero
// value is ready; it is not safe for concurrent use.
type EndpointGuard struct {
	last map[string][]netip.Addr // by host
}

// Resolve returns the addresses of eps as host prefixes to protect,
// resolving names with lookup, each host once (a hub is reached by one
// tunnel per uplink). A host that yields no address gets one warning, to
// be shown in status and logged, instead of being left out silently: its
// last addresses stay protected if it had any, else it is not protected
// at all. Prefixes come back sorted and once each; warnings in the order
// of eps.
func (g *EndpointGuard) Resolve(ctx context.Context, lookup LookupFunc, eps []Endpoint) (prot []Protected, warnings []string) {
	now := map[string][]netip.Addr{}
	done := map[string]bool{}
	for i, ep := range eps {
		host, addrs, err := endpointAddrs(ctx, lookup, ep.HostPort)
		if done[host] {
			continue
		}
		done[host] = true
		if err != nil {
			addrs = g.last[host]
			warnings = append(warnings, endpointWarning(ep, err, addrs, sameHost(eps[i+1:], host)))
		}
		if len(addrs) > 0 {
			now[host] = addrs
		}
		for _, a := range addrs {
			prot = append(prot, Protected{Prefix: netip.PrefixFrom(a, a.BitLen()), Label: ep.Label})
		}
	}
	g.last = now
	slices.SortFunc(prot, func(a, b Protected) int { return ComparePrefix(a.Prefix, b.Prefix) })
	return slices.CompactFunc(prot, func(a, b Protected) bool { return a.Prefix == b.Prefix }), warnings
}

// sameHost counts the endpoints of eps on host.
func sameHost(eps []Endpoint, host string) int {
	n := 0
	for _, ep := range eps {
		if h, _, err := net.SplitHostPort(ep.HostPort); err == nil && h == host {
			n++
		}
	}
	return n
}

func endpointWarning(ep Endpoint, err error, kept []netip.Addr, more int) string {
	what := ep.Label + " " + ep.HostPort
	if more > 0 {
		what += fmt.Sprintf(" (and %d more on this host)", more)
	}
	if len(kept) == 0 {
		return fmt.Sprintf("%s: %v: its address is not protected from breakout routes", what, err)
	}
	return fmt.Sprintf("%s: %v: still protecting the addresses it last had, %v", what, err, kept)
}

// endpointAddrs is the host of an endpoint and its address if written as
// one, else what the name resolves to; none is an error.
func endpointAddrs(ctx context.Context, lookup LookupFunc, hostPort string) (string, []netip.Addr, error) {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return hostPort, nil, fmt.Errorf("not host:port")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return host, []netip.Addr{a.Unmap()}, nil
	}
	addrs, err := lookup(ctx, host)
	if err != nil {
		return host, nil, fmt.Errorf("does not resolve (%w)", err)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.IsValid() {
			out = append(out, a.Unmap())
		}
	}
	if len(out) == 0 {
		return host, nil, fmt.Errorf("resolves to no address")
	}
	return host, out, nil
}
