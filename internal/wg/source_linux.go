package wg

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// applySource makes sure an edge tunnel's source rules exist and, while
// its interface does, the default through it in its table. Its rules and
// routes go in ps, so that the sweep keeps them.
func (m *Manager) applySource(r *Result, s Source, ps *pinState) error {
	for _, k := range sourceRules(s) {
		if err := m.ensureRule(r, k, ps.rules); err != nil {
			return err
		}
	}
	have, err := m.ownedRoutes(s.Table)
	if err != nil {
		return err
	}
	ps.have[s.Table] = have
	link, err := m.h.LinkByName(s.Tunnel)
	if err != nil {
		// No tunnel (yet): the rules match nothing that could leave by
		// it, and its packets fall through to the ECMP default.
		return nil
	}
	for _, k := range sourceRoutes(s, link.Attrs().Index) {
		ps.want[k] = true
		if err := m.ensureRoute(r, k, have); err != nil {
			return err
		}
	}
	return nil
}

// sourceRoutes is a source table's content: the default of each family the
// tunnel has an address of, straight out of it.
func sourceRoutes(s Source, link int) []routeKey {
	var out []routeKey
	seen := map[bool]bool{}
	for _, a := range s.Addrs {
		v6 := a.Addr().Is6()
		if seen[v6] {
			continue
		}
		seen[v6] = true
		dst := netip.MustParsePrefix("0.0.0.0/0")
		if v6 {
			dst = netip.MustParsePrefix("::/0")
		}
		out = append(out, routeKey{Table: s.Table, Dst: dst, Type: unix.RTN_UNICAST, Link: link})
	}
	return out
}
