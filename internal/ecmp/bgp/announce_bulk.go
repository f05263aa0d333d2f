package bgp

import (
	"context"
	"errors"
	"fmt"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// Why bulk: GoBGP turns every path added while a session is up into its
// own UPDATE message and its own write, so a million prefixes make a
// million messages and the receiver parses each. Paths it sends when a
// session comes up, or on a soft reset out, go out as one list that it
// packs into full UPDATEs (about a thousand IPv4 prefixes sharing one set
// of attributes). So a large change is added with the export policy held
// (nothing is sent), then export is released and a soft reset out sends
// the whole table packed. The cost: the whole table is sent again, which
// for a small change is far more than the change itself.

// holdPolicy rejects everything; assigned as the export policy it keeps
// GoBGP from sending paths as they are added.
const holdPolicy = "uplinkd-announce-hold"

// bulkMode forces one way of announcing, for tests and benchmarks.
type bulkMode int

const (
	bulkAuto bulkMode = iota
	bulkNever
	bulkAlways
)

// bulkMinAdds is the smallest change announced in bulk; below it direct
// UPDATEs are quick anyway. bulkTableShare: a change announced in bulk
// must be at least 1/bulkTableShare of the table it re-sends. Measured
// (see announce_bench_test.go): direct costs about as much per prefix as
// sending eight prefixes packed.
const (
	bulkMinAdds    = 2000
	bulkTableShare = 8
)

func (a *Announcer) useBulk(adds, total int) bool {
	switch a.mode {
	case bulkNever:
		return false
	case bulkAlways:
		return adds > 0
	}
	return adds >= bulkMinAdds && adds*bulkTableShare >= total
}

func addHoldPolicy(ctx context.Context, srv *server.BgpServer) error {
	p := &api.Policy{Name: holdPolicy, Statements: []*api.Statement{{
		Name:    holdPolicy + "-all",
		Actions: &api.Actions{RouteAction: api.RouteAction_REJECT},
	}}}
	if err := srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: p}); err != nil {
		return fmt.Errorf("add policy %s: %w", holdPolicy, err)
	}
	return nil
}

// hold stops GoBGP sending what is added. A session that comes up while
// held gets nothing; the flush sends it everything.
func hold(ctx context.Context, srv *server.BgpServer) error {
	return assign(ctx, srv, api.PolicyDirection_EXPORT, holdPolicy)
}

func releaseExport(ctx context.Context, srv *server.BgpServer) error {
	return assign(ctx, srv, api.PolicyDirection_EXPORT, exportPolicy)
}

// releaseAndFlush restores the export policy and re-sends the whole table
// to every established session, packed.
func releaseAndFlush(ctx context.Context, srv *server.BgpServer) error {
	if err := releaseExport(ctx, srv); err != nil {
		return err
	}
	err := srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: "all", Soft: true, Direction: api.ResetPeerRequest_OUT})
	if err != nil {
		return fmt.Errorf("send announced table to peers: %w", err)
	}
	return nil
}

// Why withdraw everything by a session reset: GoBGP sends each withdrawal
// as its own UPDATE, so withdrawing a million prefixes one by one took
// about 40 s (measured against BIRD), 40 s of traffic sent to a gateway
// that is down. A receiver drops all of a session's routes the moment it
// ends. So with export held, each session is ended with a CEASE and
// configured afresh (a new peer dials again in 1–2 s; a reset one would
// idle first), and only then are the paths withdrawn from GoBGP's RIB: a
// session that comes up meanwhile is sent nothing while held, and the
// table is empty once released. Graceful restart, which would keep the
// routes as stale, is never negotiated.
func (a *Announcer) withdrawAllByReset(ctx context.Context, r *announcing, plans []*familyPlan) (int, error) {
	if err := hold(ctx, r.srv); err != nil {
		return 0, err
	}
	var errs []error
	for _, p := range r.cfg.Peers {
		if err := r.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: p.Address.String()}); err != nil {
			errs = append(errs, fmt.Errorf("end session %s (%v): %w", p.Name, p.Address, err))
		}
		if err := addReceiver(ctx, r.srv, r.cfg, p); err != nil {
			errs = append(errs, err)
		}
	}
	withdrawn, left := 0, 0
	for _, p := range plans {
		n, err := a.withdrawPaths(ctx, r, p.gone)
		withdrawn += n
		p.have.prefixes, _ = diffSorted(p.gone[:n], p.have.prefixes)
		left += len(p.have.prefixes)
		if err != nil {
			errs = append(errs, err)
		}
	}
	release := releaseExport
	if left > 0 {
		release = releaseAndFlush // what failed to go must reach new sessions
	}
	if err := release(ctx, r.srv); err != nil {
		errs = append(errs, err)
	}
	return withdrawn, errors.Join(errs...)
}
