package wg

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/config"
)

// unreachableMetric keeps a carrier table from ever being empty: when the
// carrier link goes down the kernel deletes the default through it, and
// without this route marked packets would fall through to the main table,
// moving the tunnel onto another carrier without anyone noticing.
// It is below 2^31 so that it fits netlink's int on 32-bit routers (armv7, mips).
const unreachableMetric = 0x7f000000

// routeKey identifies a route by what matters to uplinkd.
type routeKey struct {
	Table  int
	Dst    netip.Prefix
	Type   int
	Gw     netip.Addr
	Link   int
	Metric int
}

func (k routeKey) String() string {
	s := fmt.Sprintf("table %d %s", k.Table, k.Dst)
	if k.Type == unix.RTN_UNREACHABLE {
		return fmt.Sprintf("table %d unreachable %s metric %d", k.Table, k.Dst, k.Metric)
	}
	if k.Gw.IsValid() {
		s += " via " + k.Gw.String()
	}
	return s + fmt.Sprintf(" ifindex %d", k.Link)
}

// pinState is what one Apply read and wanted of the pins, so that its
// sweep reads nothing twice.
type pinState struct {
	rules []ruleKey          // uplinkd's rules, read once at the start
	have  map[int][]routeKey // a pin table's routes as read before applying it
	want  map[routeKey]bool  // every pin's routes
}

func newPinState(rules []ruleKey) *pinState {
	return &pinState{rules: rules, have: map[int][]routeKey{}, want: map[routeKey]bool{}}
}

// applyPin makes sure the uplink's table and rules exist; rules and routes
// that are no longer wanted go in the sweep.
func (m *Manager) applyPin(r *Result, p Pin, ps *pinState) error {
	link, err := m.h.LinkByName(p.Interface)
	if err != nil {
		return fmt.Errorf("underlay interface %s: %w", p.Interface, err)
	}
	if err := ensureLooseRPF(r, p.Interface); err != nil {
		return err
	}
	for _, rule := range pinRules(p) {
		if err := m.ensureRule(r, rule, ps.rules); err != nil {
			return err
		}
	}
	routes, err := m.ownedRoutes(p.Table)
	if err != nil {
		return err
	}
	ps.have[p.Table] = routes
	want, err := m.pinRoutes(p, link)
	for _, k := range want {
		ps.want[k] = true
		if e := m.ensureRoute(r, k, routes); e != nil {
			return e
		}
	}
	return err
}

// pinRoutes lists the routes of one uplink's table: always the unreachable
// floor, and the default through the carrier while its link is up.
func (m *Manager) pinRoutes(p Pin, link netlink.Link) ([]routeKey, error) {
	want := []routeKey{
		{Table: p.Table, Dst: netip.MustParsePrefix("0.0.0.0/0"), Type: unix.RTN_UNREACHABLE, Metric: unreachableMetric},
		{Table: p.Table, Dst: netip.MustParsePrefix("::/0"), Type: unix.RTN_UNREACHABLE, Metric: unreachableMetric},
	}
	if link.Attrs().Flags&unix.IFF_UP == 0 {
		return want, nil // the kernel refuses routes through a down link
	}
	gws, err := m.gateways(p, link)
	for _, gw := range gws {
		dst := netip.MustParsePrefix("0.0.0.0/0")
		if gw.Is6() {
			dst = netip.MustParsePrefix("::/0")
		}
		want = append(want, routeKey{Table: p.Table, Dst: dst, Type: unix.RTN_UNICAST,
			Gw: gw, Link: link.Attrs().Index})
	}
	return want, err
}

// gateways returns the carrier's next hops: the configured one, else the
// ones the main table uses through this interface, else none at all for
// a point-to-point link (the default then goes straight out of it).
func (m *Manager) gateways(p Pin, link netlink.Link) ([]netip.Addr, error) {
	if p.Gateway.IsValid() {
		return []netip.Addr{p.Gateway}, nil
	}
	var gws []netip.Addr
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := m.rh.RouteList(link, fam)
		if err != nil {
			return nil, fmt.Errorf("list routes of %s: %w", p.Interface, err)
		}
		for _, rt := range routes {
			if rt.Dst == nil && rt.Gw != nil && rt.Table == unix.RT_TABLE_MAIN {
				gw, _ := netip.AddrFromSlice(rt.Gw)
				gws = append(gws, gw.Unmap())
				break
			}
		}
	}
	if len(gws) > 0 || link.Attrs().Flags&unix.IFF_POINTOPOINT != 0 || link.Attrs().RawFlags&unix.IFF_NOARP != 0 {
		if len(gws) == 0 {
			return []netip.Addr{{}}, nil // device route: `default dev wwan0`
		}
		return gws, nil
	}
	return nil, fmt.Errorf("no gateway on %s yet (none configured, none in the main table): set gateway in [[uplink]] %s", p.Interface, p.Uplink)
}

// ensureRoute adds k unless it is among have, the table as read back.
func (m *Manager) ensureRoute(r *Result, k routeKey, have []routeKey) error {
	if slices.Contains(have, k) {
		return nil
	}
	if err := m.h.RouteReplace(k.route()); err != nil {
		return fmt.Errorf("add route %s: %w", k, err)
	}
	r.add("add route %s", k)
	return nil
}

func (k routeKey) route() *netlink.Route {
	rt := &netlink.Route{Table: k.Table, Dst: ipNet(k.Dst), Type: k.Type,
		Priority: k.Metric, Protocol: config.RouteProtocol, LinkIndex: k.Link}
	if k.Gw.IsValid() {
		rt.Gw = k.Gw.AsSlice()
	}
	if k.Dst.Addr().Is6() {
		rt.Family = netlink.FAMILY_V6
	} else {
		rt.Family = netlink.FAMILY_V4
	}
	if k.Type == unix.RTN_UNICAST && !k.Gw.IsValid() {
		rt.Scope = netlink.SCOPE_LINK
	}
	return rt
}

// ownedRoutes reads back uplinkd's routes in one table.
func (m *Manager) ownedRoutes(table int) ([]routeKey, error) {
	var out []routeKey
	filter := &netlink.Route{Table: table, Protocol: config.RouteProtocol}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := m.rh.RouteListFiltered(fam, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if errors.Is(err, unix.ENOENT) {
			continue // strict dumps say a table that does not exist yet is missing
		}
		if err != nil {
			return nil, fmt.Errorf("list routes of table %d: %w", table, err)
		}
		for _, rt := range routes {
			out = append(out, keyOf(rt, fam))
		}
	}
	return out, nil
}

func keyOf(rt netlink.Route, fam int) routeKey {
	k := routeKey{Table: rt.Table, Type: rt.Type, Link: rt.LinkIndex, Metric: rt.Priority}
	if rt.Dst != nil {
		ip, _ := netip.AddrFromSlice(rt.Dst.IP)
		ones, _ := rt.Dst.Mask.Size()
		k.Dst = netip.PrefixFrom(ip.Unmap(), ones)
	} else if fam == netlink.FAMILY_V6 {
		k.Dst = netip.MustParsePrefix("::/0")
	} else {
		k.Dst = netip.MustParsePrefix("0.0.0.0/0")
	}
	if rt.Gw != nil {
		gw, _ := netip.AddrFromSlice(rt.Gw)
		k.Gw = gw.Unmap()
	}
	if k.Type == unix.RTN_UNREACHABLE {
		k.Link = 0
	}
	if fam == netlink.FAMILY_V6 && k.Metric == ip6DefaultMetric {
		k.Metric = 0 // as we write it: see ip6DefaultMetric
	}
	return k
}

// ip6DefaultMetric is the metric the kernel gives an IPv6 route added
// without one (IP6_RT_PRIO_USER). Read back as it is, such a route did not
// match the key it was written from: the next Apply wrote it again and its
// sweep deleted the route read, so a tunnel's IPv6 source default and a
// pin's IPv6 default came and went with every Apply.
const ip6DefaultMetric = 1024

// ensureLooseRPF keeps reverse-path filtering on a carrier link from being
// strict: replies of the second and third tunnels arrive on links that the
// main table does not route their source through, and strict mode drops
// them. A setting already loose or off is left alone.
func ensureLooseRPF(r *Result, ifname string) error {
	all, err := readSysctl("net/ipv4/conf/all/rp_filter")
	if err != nil {
		return err
	}
	path := "net/ipv4/conf/" + ifname + "/rp_filter"
	cur, err := readSysctl(path)
	if err != nil {
		return err
	}
	if max(all, cur) != "1" {
		return nil
	}
	if err := os.WriteFile("/proc/sys/"+path, []byte("2"), 0o644); err != nil {
		return fmt.Errorf("set %s: %w", path, err)
	}
	r.add("set %s = 2", strings.ReplaceAll(path, "/", "."))
	return nil
}

func readSysctl(path string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}
