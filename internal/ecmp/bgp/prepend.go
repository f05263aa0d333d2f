package bgp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	api "github.com/osrg/gobgp/v3/api"
)

// Prepending our own AS to what this speaker announces to some neighbors
// makes the far side prefer the others: BGP's best path takes the shortest
// AS path, and multipath (uplinkd's hub, BIRD's and FRR's defaults) only
// spreads over paths as short as the best. An edge does it on the tunnels
// of a carrier past its hard data budget, so the hub sends downloads
// through them only while nothing else reaches the edge. It is an export
// policy of its own generation, like the import filter, so the change is
// one step, and the neighbors whose prepend changed are soft-reset
// outbound: GoBGP sends them the routes again; no session goes down.

// exportGen is the export policy in force and what it prepends.
type exportGen struct {
	gen     int                // 0: setExportPolicy's, prepending nothing
	prepend map[netip.Addr]int // neighbor → extra copies of our AS
	sets    []string
}

func (e exportGen) name() string {
	if e.gen == 0 {
		return exportPolicy
	}
	return fmt.Sprintf("%s-%d", exportPolicy, e.gen)
}

// SetPrepend makes what this speaker announces to each neighbor in
// prepend carry our AS that many more times (none: as usual). It is kept
// across a restart of the speaker.
func (s *Speaker) SetPrepend(ctx context.Context, prepend map[netip.Addr]int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prepend = maps.Clone(prepend)
	if s.run == nil {
		return nil
	}
	return s.applyPrepend(ctx, s.run, true)
}

// applyPrepend installs the export generation for s.prepend if it differs
// from the one in force; reset soft-resets the neighbors it changes.
func (s *Speaker) applyPrepend(ctx context.Context, r *running, reset bool) error {
	want := map[netip.Addr]int{}
	for a, n := range s.prepend {
		if n > 0 {
			want[a.Unmap()] = n
		}
	}
	if maps.Equal(want, r.export.prepend) {
		return nil
	}
	next, err := installExport(ctx, r, r.export.gen+1, want)
	if err != nil {
		return err
	}
	old := r.export
	r.export = next
	if err := removeExport(ctx, r, old); err != nil {
		s.log.Debug("remove old bgp export policy", "err", err)
	}
	s.log.Info("bgp export: our AS prepended", "neighbors", fmt.Sprint(want))
	if !reset {
		return nil
	}
	var errs []error
	for _, a := range changedNeighbors(old.prepend, want) {
		req := &api.ResetPeerRequest{Address: a.String(), Soft: true, Direction: api.ResetPeerRequest_OUT}
		if err := r.srv.ResetPeer(ctx, req); err != nil && slices.ContainsFunc(r.cfg.Peers, func(p Peer) bool { return p.Address == a }) {
			errs = append(errs, fmt.Errorf("send routes again to %s: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// changedNeighbors lists the neighbors whose prepend differs.
func changedNeighbors(a, b map[netip.Addr]int) []netip.Addr {
	var out []netip.Addr
	for n := range maps.Keys(a) {
		if a[n] != b[n] {
			out = append(out, n)
		}
	}
	for n := range maps.Keys(b) {
		if _, ok := a[n]; !ok {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// installExport defines generation gen: one neighbor set per prepend
// count, a statement for each accepting our routes with that many more
// copies of our AS, then the plain one for everyone else.
func installExport(ctx context.Context, r *running, gen int, prepend map[netip.Addr]int) (exportGen, error) {
	e := exportGen{gen: gen, prepend: prepend}
	byCount := map[int][]string{}
	for a, n := range prepend {
		byCount[n] = append(byCount[n], netip.PrefixFrom(a, a.BitLen()).String())
	}
	var stmts []*api.Statement
	for _, n := range slices.Sorted(maps.Keys(byCount)) {
		name := fmt.Sprintf("%s-prepend-%d-%d", exportPolicy, n, gen)
		list := byCount[n]
		slices.Sort(list)
		ds := &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: name, List: list}
		if err := r.srv.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: ds}); err != nil {
			removeExport(ctx, r, e)
			return exportGen{}, fmt.Errorf("add neighbor set %s: %w", name, err)
		}
		e.sets = append(e.sets, name)
		stmts = append(stmts, &api.Statement{
			Name: name,
			Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL,
				NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: name}},
			Actions: &api.Actions{RouteAction: api.RouteAction_ACCEPT,
				AsPrepend: &api.AsPrependAction{Asn: r.cfg.ASN, Repeat: uint32(n)}},
		})
	}
	stmts = append(stmts, localOnly(e.name()))
	p := &api.Policy{Name: e.name(), Statements: stmts}
	if err := r.srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: p}); err != nil {
		removeExport(ctx, r, e)
		return exportGen{}, fmt.Errorf("add policy %s: %w", e.name(), err)
	}
	if err := assign(ctx, r.srv, api.PolicyDirection_EXPORT, e.name()); err != nil {
		removeExport(ctx, r, e)
		return exportGen{}, err
	}
	return e, nil
}

// removeExport deletes an unassigned generation and its sets.
func removeExport(ctx context.Context, r *running, e exportGen) error {
	var errs []error
	if err := r.srv.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: e.name()}, All: true}); err != nil {
		errs = append(errs, fmt.Errorf("delete policy %s: %w", e.name(), err))
	}
	for _, set := range e.sets {
		ds := &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: set}
		if err := r.srv.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: ds, All: true}); err != nil {
			errs = append(errs, fmt.Errorf("delete neighbor set %s: %w", set, err))
		}
	}
	return errors.Join(errs...)
}
