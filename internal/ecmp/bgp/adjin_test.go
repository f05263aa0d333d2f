//go:build !race

// Reading the Adj-RIB-In with EnableFiltered races inside GoBGP (it
// re-inserts paths that its event watcher reads), hence not under -race.

package bgp

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
)

// TestAdjInEnableFiltered records what the DESIGN proposed for Routes and
// GoBGP v3.37 does: the Adj-RIB-In listed with EnableFiltered marks the
// paths the import policy rejects. Routes reads the global RIB instead,
// which gives the same set without writing to the Adj-RIB-In.
func TestAdjInEnableFiltered(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))

	filtered := map[netip.Prefix]bool{}
	edge.mu.RLock()
	req := &api.ListPathRequest{
		TableType: api.TableType_ADJ_IN, Name: "127.0.0.2",
		Family: family(addr("127.0.0.2")), EnableFiltered: true,
	}
	err := listPath(context.Background(), edge.run.srv, req, func(d *api.Destination) {
		for _, path := range d.GetPaths() {
			filtered[netip.MustParsePrefix(d.GetPrefix())] = path.GetFiltered()
		}
	})
	edge.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Prefix]bool{v4Default: false, extra: true}
	if diff := cmp.Diff(want, filtered, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("adj-in filtered marks (-want +got):\n%s", diff)
	}
}
