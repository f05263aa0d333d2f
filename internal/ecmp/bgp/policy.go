package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// GoBGP applies the "global" table's policies to every peer that is not a
// route-server client, and its import policy to locally originated paths
// too: both policies therefore accept local paths first.
const (
	globalTable     = "global"
	exportPolicy    = "uplinkd-export"
	importPrefix    = "uplinkd-import"
	acceptSetPrefix = "uplinkd-accept"
)

// setExportPolicy announces only what this speaker originates. Without it
// GoBGP re-advertises what one tunnel learned over the others (the hub's
// default back to the hub), which the far side drops only by AS-loop luck.
func setExportPolicy(ctx context.Context, srv *server.BgpServer) error {
	p := &api.Policy{Name: exportPolicy, Statements: []*api.Statement{localOnly(exportPolicy)}}
	if err := srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: p}); err != nil {
		return fmt.Errorf("add policy %s: %w", exportPolicy, err)
	}
	return assign(ctx, srv, api.PolicyDirection_EXPORT, exportPolicy)
}

func localOnly(policy string) *api.Statement {
	return &api.Statement{
		Name:       policy + "-local",
		Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ACCEPT},
	}
}

// assign makes policy the only one of the global table in dir, rejecting
// whatever it does not accept.
func assign(ctx context.Context, srv *server.BgpServer, dir api.PolicyDirection, policy string) error {
	err := srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name:          globalTable,
		Direction:     dir,
		Policies:      []*api.Policy{{Name: policy}},
		DefaultAction: api.RouteAction_REJECT,
	}})
	if err != nil {
		return fmt.Errorf("assign policy %s: %w", policy, err)
	}
	return nil
}

// importPolicy is one generation of the import filter. A change builds the
// next generation beside it and switches the assignment in one step, so no
// moment accepts everything or nothing; replacing a prefix set in place is
// no good either, as GoBGP's statements keep pointing at the old set.
type importPolicy struct {
	gen    int
	groups []acceptGroup
	sets   []string
}

// acceptGroup is what one group of peers may announce. Neighbors nil
// means every peer: the usual case of one accept list for all sessions.
// A hub serving several edge sites has one group per site, so that one
// site can never announce another's LAN.
type acceptGroup struct {
	neighbors []netip.Addr // sorted
	accept    []netip.Prefix
}

func (p importPolicy) name() string { return fmt.Sprintf("%s-%d", importPrefix, p.gen) }

// acceptGroups derives the import filter's groups from a config: peers with
// an accept list of their own are grouped by it; the others share c.Accept.
func acceptGroups(c Config) []acceptGroup {
	own := false
	for _, p := range c.Peers {
		own = own || p.Accept != nil
	}
	if !own {
		return []acceptGroup{{accept: canonical(c.Accept)}}
	}
	byList := map[string]*acceptGroup{}
	var keys []string
	for _, p := range c.Peers {
		list := p.Accept
		if list == nil {
			list = c.Accept
		}
		list = canonical(list)
		k := fmt.Sprint(list)
		g, ok := byList[k]
		if !ok {
			g = &acceptGroup{accept: list}
			byList[k] = g
			keys = append(keys, k)
		}
		g.neighbors = append(g.neighbors, p.Address.Unmap())
	}
	slices.Sort(keys)
	out := make([]acceptGroup, 0, len(keys))
	for _, k := range keys {
		g := byList[k]
		slices.SortFunc(g.neighbors, func(a, b netip.Addr) int { return a.Compare(b) })
		out = append(out, *g)
	}
	return out
}

func sameGroups(a, b []acceptGroup) bool {
	return slices.EqualFunc(a, b, func(x, y acceptGroup) bool {
		return slices.Equal(x.neighbors, y.neighbors) && slices.Equal(x.accept, y.accept)
	})
}

// canonical is ps sorted by address, then length, without duplicates, in
// a copy.
func canonical(ps []netip.Prefix) []netip.Prefix {
	return breakout.SortPrefixes(slices.Clone(ps))
}

// installImportPolicy defines generation gen of the import filter and makes
// it the global import policy.
func installImportPolicy(ctx context.Context, srv *server.BgpServer, gen int, groups []acceptGroup) (importPolicy, error) {
	p := importPolicy{gen: gen, groups: groups}
	policy := &api.Policy{Name: p.name(), Statements: []*api.Statement{localOnly(p.name())}}
	for i, g := range groups {
		stmts, err := p.addGroup(ctx, srv, i, g)
		if err != nil {
			removeImportPolicy(ctx, srv, p)
			return importPolicy{}, err
		}
		policy.Statements = append(policy.Statements, stmts...)
	}
	if err := srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: policy}); err != nil {
		removeImportPolicy(ctx, srv, p)
		return importPolicy{}, fmt.Errorf("add policy %s: %w", p.name(), err)
	}
	if err := assign(ctx, srv, api.PolicyDirection_IMPORT, p.name()); err != nil {
		removeImportPolicy(ctx, srv, p)
		return importPolicy{}, err
	}
	return p, nil
}

// addGroup defines group i's prefix sets (and neighbor set) and returns
// the statements that accept its prefixes from its peers.
func (p *importPolicy) addGroup(ctx context.Context, srv *server.BgpServer, i int, g acceptGroup) ([]*api.Statement, error) {
	var nset *api.MatchSet
	if g.neighbors != nil {
		name := fmt.Sprintf("%s-peers-%d-%d", acceptSetPrefix, i, p.gen)
		var addrs []string
		for _, a := range g.neighbors {
			addrs = append(addrs, netip.PrefixFrom(a, a.BitLen()).String())
		}
		ds := &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: name, List: addrs}
		if err := srv.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: ds}); err != nil {
			return nil, fmt.Errorf("add neighbor set %s: %w", name, err)
		}
		p.sets = append(p.sets, name)
		nset = &api.MatchSet{Type: api.MatchSet_ANY, Name: name}
	}
	var stmts []*api.Statement
	for _, fam := range []struct {
		name string
		is4  bool
	}{{"v4", true}, {"v6", false}} {
		prefixes := exactPrefixes(g.accept, fam.is4)
		if len(prefixes) == 0 {
			continue // GoBGP cannot tell the family of an empty set
		}
		set := fmt.Sprintf("%s-%s-%d-%d", acceptSetPrefix, fam.name, i, p.gen)
		ds := &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: set, Prefixes: prefixes}
		if err := srv.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: ds}); err != nil {
			return nil, fmt.Errorf("add prefix set %s: %w", set, err)
		}
		p.sets = append(p.sets, set)
		stmts = append(stmts, &api.Statement{
			Name:       set,
			Conditions: &api.Conditions{PrefixSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: set}, NeighborSet: nset},
			Actions:    &api.Actions{RouteAction: api.RouteAction_ACCEPT},
		})
	}
	return stmts, nil
}

// exactPrefixes matches each prefix alone, not its longer subnets.
func exactPrefixes(ps []netip.Prefix, is4 bool) []*api.Prefix {
	var out []*api.Prefix
	for _, p := range ps {
		if p.Addr().Is4() == is4 {
			b := uint32(p.Bits())
			out = append(out, &api.Prefix{IpPrefix: p.String(), MaskLengthMin: b, MaskLengthMax: b})
		}
	}
	return out
}

// removeImportPolicy deletes an unassigned generation; what is already gone
// is not an error.
func removeImportPolicy(ctx context.Context, srv *server.BgpServer, p importPolicy) error {
	var errs []error
	err := srv.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: p.name()}, All: true})
	if err != nil {
		errs = append(errs, fmt.Errorf("delete policy %s: %w", p.name(), err))
	}
	for _, set := range p.sets {
		typ := api.DefinedType_PREFIX
		if strings.Contains(set, "-peers-") {
			typ = api.DefinedType_NEIGHBOR
		}
		ds := &api.DefinedSet{DefinedType: typ, Name: set}
		if err := srv.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: ds, All: true}); err != nil {
			errs = append(errs, fmt.Errorf("delete prefix set %s: %w", set, err))
		}
	}
	return errors.Join(errs...)
}

// applyAccept switches to a new import filter generation if the accepted
// set changed, then has GoBGP re-run the filter over what peers sent.
func (s *Speaker) applyAccept(ctx context.Context, r *running, c Config) error {
	groups := acceptGroups(c)
	if sameGroups(groups, r.policy.groups) {
		return nil
	}
	next, err := installImportPolicy(ctx, r.srv, r.policy.gen+1, groups)
	if err != nil {
		return err
	}
	if err := removeImportPolicy(ctx, r.srv, r.policy); err != nil {
		s.log.Debug("remove old bgp import policy", "err", err)
	}
	r.policy = next
	s.log.Info("bgp import filter updated", "groups", len(next.groups))
	err = r.srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: "all", Soft: true, Direction: api.ResetPeerRequest_IN})
	if err != nil && len(r.cfg.Peers) > 0 {
		return fmt.Errorf("soft reset peers after import filter change: %w", err)
	}
	return nil
}
