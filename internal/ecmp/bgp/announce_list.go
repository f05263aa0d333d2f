package bgp

import (
	"context"
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// Why lists: GoBGP propagates each path of a list separately, and
// upstream hands every path to a session on its own, one UPDATE per
// prefix. Patched (third_party/gobgp/PATCHES.md), a local list of
// distinct unicast prefixes goes to each session as one list, which it
// packs as it packs a session's initial table: about 800 IPv4 prefixes
// per UPDATE, sent while the next list is added. AddPathList (also a
// patch) takes the list without the in-process gRPC stream that upstream
// offers as the only batched way in.

// pathBatch is how many paths go in one list: one trip through GoBGP's
// main loop each, short enough not to hold it for long, long enough to
// fill UPDATEs.
const pathBatch = 2000

// addPathList adds the paths for prefixes, built by mk, in lists of
// pathBatch and returns how many went in: a list is taken whole or not at
// all (GoBGP converts and checks every path before it adds any).
func addPathList(ctx context.Context, srv *server.BgpServer, prefixes []netip.Prefix, mk func(netip.Prefix) *api.Path) (int, error) {
	list := make([]*api.Path, 0, min(pathBatch, len(prefixes)))
	for done := 0; done < len(prefixes); done += len(list) {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		list = list[:0]
		for _, p := range prefixes[done:min(done+pathBatch, len(prefixes))] {
			list = append(list, mk(p))
		}
		if err := srv.AddPathList(ctx, api.TableType_GLOBAL, "", list); err != nil {
			return done, fmt.Errorf("add %d paths from %v: %w", len(list), prefixes[done], err)
		}
	}
	return len(prefixes), nil
}
