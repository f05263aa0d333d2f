package bgp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// Path is one accepted way to a prefix: through the session Peer (its
// configured name), to NextHop.
type Path struct {
	Peer    string
	NextHop netip.Addr
	// ASPathLen is the AS path's length as best-path selection counts it
	// (an AS_SET as one): the shortest paths of a prefix share it, the
	// longer are backups (a carrier past its data budget prepends).
	ASPathLen int
	// Bandwidth is the path's link bandwidth extended community, in bytes
	// a second (0: none): an edge's weight for the tunnel (see Export).
	Bandwidth float32
}

// originPath builds a locally originated path. The next hop is unspecified
// on purpose: on eBGP GoBGP puts each session's own local address there.
func originPath(p netip.Prefix) (*api.Path, error) {
	origin := bgppkt.NewPathAttributeOrigin(bgppkt.BGP_ORIGIN_ATTR_TYPE_IGP)
	bits := uint8(p.Bits())
	if p.Addr().Is4() {
		nlri := bgppkt.NewIPAddrPrefix(bits, p.Addr().String())
		attrs := []bgppkt.PathAttributeInterface{origin, bgppkt.NewPathAttributeNextHop("0.0.0.0")}
		return apiutil.NewPath(nlri, false, attrs, time.Now())
	}
	nlri := bgppkt.NewIPv6AddrPrefix(bits, p.Addr().String())
	mp := bgppkt.NewPathAttributeMpReachNLRI("::", []bgppkt.AddrPrefixInterface{nlri})
	return apiutil.NewPath(nlri, false, []bgppkt.PathAttributeInterface{origin, mp}, time.Now())
}

func announce(ctx context.Context, srv *server.BgpServer, prefixes []netip.Prefix) error {
	for _, p := range prefixes {
		path, err := originPath(p)
		if err == nil {
			_, err = srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path})
		}
		if err != nil {
			return fmt.Errorf("announce %v: %w", p, err)
		}
	}
	return nil
}

func withdraw(ctx context.Context, srv *server.BgpServer, p netip.Prefix) error {
	path, err := originPath(p)
	if err == nil {
		err = srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: path.Family, Path: path})
	}
	if err != nil {
		return fmt.Errorf("withdraw %v: %w", p, err)
	}
	return nil
}

// applyOriginate announces what is new before withdrawing what went, and
// returns what is announced.
func applyOriginate(ctx context.Context, srv *server.BgpServer, have, want []netip.Prefix) ([]netip.Prefix, error) {
	have, want = canonical(have), canonical(want)
	reached := slices.Clone(have)
	var errs []error
	for _, p := range want {
		if slices.Contains(have, p) {
			continue
		}
		if err := announce(ctx, srv, []netip.Prefix{p}); err != nil {
			errs = append(errs, err)
			continue
		}
		reached = append(reached, p)
	}
	for _, p := range have {
		if slices.Contains(want, p) {
			continue
		}
		if err := withdraw(ctx, srv, p); err != nil {
			errs = append(errs, err)
			continue
		}
		reached = slices.DeleteFunc(reached, func(q netip.Prefix) bool { return q == p })
	}
	return canonical(reached), errors.Join(errs...)
}

// Routes returns every path that passed the import filter, from every
// established session, by prefix; paths of one prefix are sorted by peer.
// It is empty while the speaker is stopped.
func (s *Speaker) Routes(ctx context.Context) (map[netip.Prefix][]Path, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.run == nil {
		return map[netip.Prefix][]Path{}, nil
	}
	up, err := s.established(ctx)
	if err != nil {
		return nil, err
	}
	dests, err := s.globalRIB(ctx)
	routes, lerr := Learned(s.run.cfg.Peers, up, s.run.cfg.Accept, dests)
	return routes, errors.Join(err, lerr)
}

// Learned turns destinations of GoBGP's global RIB into what Routes
// returns: by prefix, one Path per configured peer whose session is up (in
// up) and that sent the prefix, sorted by peer and next hop. Withdrawn and
// locally originated paths are left out, and so is any prefix accept does
// not list exactly: GoBGP's import policy filters first, but the FIB must
// never take what the config does not accept, whatever went on in the
// policy engine. A path whose next hop cannot be read is reported in the
// error and left out; the others still count. Learned is pure: the same
// destinations, in any order, give the same answer.
func Learned(peers []Peer, up map[netip.Addr]bool, accept []netip.Prefix, dests []*api.Destination) (map[netip.Prefix][]Path, error) {
	byPeer, err := byNeighbor(dests)
	routes := map[netip.Prefix][]Path{}
	for _, p := range peers {
		if !up[p.Address] {
			continue
		}
		mine := accept
		if p.Accept != nil {
			mine = p.Accept // a hub's edge site: its own LAN only
		}
		for _, a := range byPeer[p.Address] {
			if slices.Contains(mine, a.prefix) {
				routes[a.prefix] = append(routes[a.prefix], Path{Peer: p.Name, NextHop: a.nextHop, ASPathLen: a.asLen, Bandwidth: a.bandwidth})
			}
		}
	}
	for prefix, paths := range routes {
		slices.SortFunc(paths, comparePaths)
		routes[prefix] = slices.Compact(paths)
	}
	return routes, err
}

func comparePaths(a, b Path) int {
	if c := strings.Compare(a.Peer, b.Peer); c != 0 {
		return c
	}
	return a.NextHop.Compare(b.NextHop)
}

// established returns the neighbor addresses of established sessions.
func (s *Speaker) established(ctx context.Context) (map[netip.Addr]bool, error) {
	up := map[netip.Addr]bool{}
	err := s.run.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			if a, err := netip.ParseAddr(p.GetState().GetNeighborAddress()); err == nil {
				up[a.Unmap()] = true
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list bgp peers: %w", err)
	}
	return up, nil
}

type acceptedPath struct {
	prefix    netip.Prefix
	nextHop   netip.Addr
	asLen     int
	bandwidth float32
}

// acceptedPaths lists the global RIB's learned paths by the neighbor each
// came from.
func (s *Speaker) acceptedPaths(ctx context.Context) (map[netip.Addr][]acceptedPath, error) {
	dests, err := s.globalRIB(ctx)
	byPeer, perr := byNeighbor(dests)
	return byPeer, errors.Join(err, perr)
}

// byNeighbor files the destinations' learned paths under their neighbor;
// locally originated paths are left out.
func byNeighbor(dests []*api.Destination) (map[netip.Addr][]acceptedPath, error) {
	out := map[netip.Addr][]acceptedPath{}
	var errs []error
	for _, d := range dests {
		if err := addDestination(out, d); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// globalRIB lists the global RIB of both families.
//
// The global RIB holds every path that passed the import policy, not only
// the best, and listing it is read-only. The Adj-RIB-In with EnableFiltered
// gives the same answer (tested), but GoBGP implements it by re-inserting
// the filtered paths into the live Adj-RIB-In, which races with its own
// event watcher reading those paths (seen with -race).
func (s *Speaker) globalRIB(ctx context.Context) ([]*api.Destination, error) {
	var dests []*api.Destination
	var errs []error
	for _, fam := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		req := &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: family(fam)}
		err := listPath(ctx, s.run.srv, req, func(d *api.Destination) { dests = append(dests, d) })
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s routes: %w", familyName(fam), err))
		}
	}
	return dests, errors.Join(errs...)
}

// addDestination files a destination's learned paths under their neighbor.
func addDestination(out map[netip.Addr][]acceptedPath, d *api.Destination) error {
	prefix, err := netip.ParsePrefix(d.GetPrefix())
	if err != nil {
		return fmt.Errorf("parse prefix %q: %w", d.GetPrefix(), err)
	}
	var errs []error
	for _, p := range d.GetPaths() {
		from, err := netip.ParseAddr(p.GetNeighborIp())
		if err != nil || from.IsUnspecified() || p.GetIsWithdraw() {
			continue // originated here
		}
		a, err := pathInfo(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("path to %v from %v: %w", prefix, from, err))
			continue
		}
		from = from.Unmap()
		a.prefix = prefix
		out[from] = append(out[from], a)
	}
	return errors.Join(errs...)
}

// pathInfo reads a path's next hop, AS path length and link bandwidth.
func pathInfo(p *api.Path) (acceptedPath, error) {
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return acceptedPath{}, err
	}
	var nh net.IP
	var out acceptedPath
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgppkt.PathAttributeNextHop:
			nh = a.Value
		case *bgppkt.PathAttributeMpReachNLRI:
			nh = a.Nexthop
		case *bgppkt.PathAttributeAsPath:
			out.asLen = asPathLen(a)
		case *bgppkt.PathAttributeExtendedCommunities:
			for _, c := range a.Value {
				if lb, ok := c.(*bgppkt.LinkBandwidthExtended); ok {
					out.bandwidth = lb.Bandwidth
				}
			}
		}
	}
	addr, ok := netip.AddrFromSlice(nh)
	if !ok {
		return acceptedPath{}, errors.New("no next hop")
	}
	out.nextHop = addr.Unmap()
	return out, nil
}

// asPathLen counts an AS path as RFC 4271 §9.1.2.2 does: each AS of a
// sequence, a set as one.
func asPathLen(a *bgppkt.PathAttributeAsPath) int {
	n := 0
	for _, seg := range a.Value {
		switch seg.GetType() {
		case bgppkt.BGP_ASPATH_ATTR_TYPE_SEQ:
			n += len(seg.GetAS())
		case bgppkt.BGP_ASPATH_ATTR_TYPE_SET:
			n++
		}
	}
	return n
}
