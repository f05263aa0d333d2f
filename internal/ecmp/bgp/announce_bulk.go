package bgp

import (
	"context"
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
// against BIRD (TestAnnouncerToBIRDFull), 100 k prefixes until held: one
// UPDATE each 3.6–5.2 s, packed 0.8–1.1 s, of which adding to GoBGP's RIB
// is most; so an UPDATE of its own costs about what re-sending ten
// prefixes packed does.
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

// releaseAndFlush restores the export policy and re-sends the whole table
// to every established session, packed.
func releaseAndFlush(ctx context.Context, srv *server.BgpServer) error {
	if err := assign(ctx, srv, api.PolicyDirection_EXPORT, exportPolicy); err != nil {
		return err
	}
	err := srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: "all", Soft: true, Direction: api.ResetPeerRequest_OUT})
	if err != nil {
		return fmt.Errorf("send announced table to peers: %w", err)
	}
	return nil
}

// Why withdraw everything by restarting the server: GoBGP sends each
// withdrawal as its own UPDATE, so withdrawing a million prefixes one by
// one took about 40 s against BIRD, 40 s of traffic sent to a gateway that
// is down; even held back from the wire, deleting them from GoBGP's RIB
// took 20 s. A receiver drops all of a session's routes the moment it
// ends, and a new server starts with an empty RIB and frees the old one's
// memory (about 600 MB for a million paths). Stopping the server ends
// every session with a CEASE; graceful restart, which would make the
// receiver keep the routes as stale, is never negotiated. The new
// sessions come up at once, empty.
func (a *Announcer) restart(ctx context.Context, r *announcing) (*announcing, error) {
	if err := a.shutdown(r); err != nil {
		a.log.Debug("stop bgp announcer server for restart", "err", err)
	}
	next, err := a.start(ctx, r.cfg, r.cfg.speakerConfig().withDefaults())
	if err != nil {
		return nil, fmt.Errorf("restart bgp announcer (now stopped): %w", err)
	}
	next.last = r.last
	return next, nil
}
