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

// filler makes dst the path of p, appending its NLRI to buf.
type filler func(dst *api.Path, p netip.Prefix, buf []byte) []byte

// addPathList adds the paths for prefixes, made by fill, in lists of
// pathBatch and returns how many went in: a list is taken whole or not at
// all (GoBGP converts and checks every path before it adds any). The
// paths of one list are used again for the next: GoBGP keeps nothing of
// them (it decodes the NLRI into its own values), and a million API paths
// made afresh were a tenth of everything allocated for the 998 k table.
func addPathList(ctx context.Context, srv *server.BgpServer, prefixes []netip.Prefix, fill filler) (int, error) {
	size := min(pathBatch, len(prefixes))
	store := make([]api.Path, size)
	list := make([]*api.Path, size)
	for i := range store {
		list[i] = &store[i]
	}
	buf := make([]byte, 0, size*17) // the longest NLRI: 1 + 16 bytes
	for done := 0; done < len(prefixes); {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		chunk := prefixes[done:min(done+pathBatch, len(prefixes))]
		buf = buf[:0]
		for i, p := range chunk {
			buf = fill(list[i], p, buf)
		}
		if err := srv.AddPathList(ctx, api.TableType_GLOBAL, "", list[:len(chunk)]); err != nil {
			return done, fmt.Errorf("add %d paths from %v: %w", len(chunk), chunk[0], err)
		}
		done += len(chunk)
	}
	return len(prefixes), nil
}
