package bgp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/uplinkd/uplinkd/internal/config"
)

// What this speaker announces to a neighbor can carry two marks, set by
// an export policy of its own generation, like the import filter, so that
// a change is one step; the neighbors whose marks changed are soft-reset
// outbound: GoBGP sends them the routes again; no session goes down.
//
//   - Our own AS prepended makes the far side prefer the others: BGP's
//     best path takes the shortest AS path, and multipath (uplinkd's hub,
//     BIRD's and FRR's defaults) only spreads over paths as short as the
//     best. An edge does it on the tunnels that should carry only what
//     nothing else can (a carrier past its hard data budget, or out by its
//     SLA), so that the hub sends downloads through them only then.
//   - The link bandwidth extended community (draft-ietf-idr-link-bandwidth,
//     non-transitive, as FRR reads it for weighted ECMP) carries the
//     tunnel's ECMP weight as that many Mbit/s, so that the hub splits what
//     it sends by the same weights as the edge (carrier bandwidth, a soft
//     budget limit, an SLA's degraded weight).

// Export is what this speaker adds to the routes it announces to one
// neighbor.
type Export struct {
	Prepend int // extra copies of our AS
	Weight  int // link bandwidth of Weight Mbit/s; 0: none
}

// bytesPerWeight is one weight unit of link bandwidth: 1 Mbit/s, in the
// community's bytes a second.
const bytesPerWeight = 125000

// WeightOf is the ECMP weight a path's link bandwidth stands for (see
// Export), at least 1; 0 for none.
func WeightOf(bandwidth float32) int {
	if bandwidth <= 0 {
		return 0
	}
	w := int(bandwidth/bytesPerWeight + 0.5)
	return min(max(w, 1), config.MaxNexthopWeight)
}

// exportGen is the export policy in force and what it adds.
type exportGen struct {
	gen  int                   // 0: setExportPolicy's, adding nothing
	by   map[netip.Addr]Export // neighbor → its marks
	sets []string
}

func (e exportGen) name() string {
	if e.gen == 0 {
		return exportPolicy
	}
	return fmt.Sprintf("%s-%d", exportPolicy, e.gen)
}

// SetExport makes what this speaker announces to each neighbor in by
// carry its marks (a neighbor not in by, or with none: as usual). It is
// kept across a restart of the speaker.
func (s *Speaker) SetExport(ctx context.Context, by map[netip.Addr]Export) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.export = maps.Clone(by)
	if s.run == nil {
		return nil
	}
	return s.applyExport(ctx, s.run, true)
}

// applyExport installs the export generation for s.export if it differs
// from the one in force; reset soft-resets the neighbors it changes.
func (s *Speaker) applyExport(ctx context.Context, r *running, reset bool) error {
	want := map[netip.Addr]Export{}
	for a, e := range s.export {
		if e != (Export{}) {
			want[a.Unmap()] = e
		}
	}
	if maps.Equal(want, r.export.by) {
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
	s.log.Info("bgp export marks", "neighbors", fmt.Sprint(want))
	if !reset {
		return nil
	}
	var errs []error
	for _, a := range changedNeighbors(old.by, want) {
		req := &api.ResetPeerRequest{Address: a.String(), Soft: true, Direction: api.ResetPeerRequest_OUT}
		if err := r.srv.ResetPeer(ctx, req); err != nil && slices.ContainsFunc(r.cfg.Peers, func(p Peer) bool { return p.Address == a }) {
			errs = append(errs, fmt.Errorf("send routes again to %s: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// changedNeighbors lists the neighbors whose marks differ.
func changedNeighbors(a, b map[netip.Addr]Export) []netip.Addr {
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

// installExport defines generation gen: one neighbor set per distinct
// marks, a statement for each accepting our routes with them, then the
// plain one for everyone else.
func installExport(ctx context.Context, r *running, gen int, by map[netip.Addr]Export) (exportGen, error) {
	e := exportGen{gen: gen, by: by}
	groups := map[Export][]string{}
	for a, x := range by {
		groups[x] = append(groups[x], netip.PrefixFrom(a, a.BitLen()).String())
	}
	keys := slices.SortedFunc(maps.Keys(groups), func(a, b Export) int {
		if a.Prepend != b.Prepend {
			return a.Prepend - b.Prepend
		}
		return a.Weight - b.Weight
	})
	var stmts []*api.Statement
	for _, x := range keys {
		name := fmt.Sprintf("%s-p%d-w%d-%d", exportPolicy, x.Prepend, x.Weight, gen)
		list := groups[x]
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
			Actions: exportActions(r.cfg.ASN, x),
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

// exportActions accepts a route with x's marks.
func exportActions(asn uint32, x Export) *api.Actions {
	a := &api.Actions{RouteAction: api.RouteAction_ACCEPT}
	if x.Prepend > 0 {
		a.AsPrepend = &api.AsPrependAction{Asn: asn, Repeat: uint32(x.Prepend)}
	}
	if x.Weight > 0 {
		// The community's AS is two octets: AS_TRANS for a larger one.
		if asn > 0xffff {
			asn = 23456
		}
		a.ExtCommunity = &api.CommunityAction{Type: api.CommunityAction_ADD,
			Communities: []string{fmt.Sprintf("lb:%d:%d", asn, x.Weight*bytesPerWeight)}}
	}
	return a
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
