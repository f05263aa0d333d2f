package engine

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// cgnPrefixes returns n /26 prefixes from 100.64.0.0/10, slot 4i+off: with
// off 0 and 2 no two of them are siblings, so aggregation keeps every one.
func cgnPrefixes(off, n int) []netip.Prefix {
	base := netip.MustParseAddr("100.64.0.0").As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16
	out := make([]netip.Prefix, n)
	for i := range n {
		a := start + uint32(4*i+off)<<6
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), 26)
	}
	return out
}

func prefixList(ps []netip.Prefix) []byte {
	var b strings.Builder
	b.WriteString("# test list\n")
	for _, p := range ps {
		fmt.Fprintln(&b, p)
	}
	return []byte(b.String())
}

// TestOnePercentChurn: an update with 1 % of the prefixes changed adds and
// deletes only those.
func TestOnePercentChurn(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	setupNet(t)
	const n, changed = 10000, 100
	base := cgnPrefixes(0, n)
	srv := newFeedServer(t, prefixList(base))
	p := basePlan(t, t.TempDir())
	p.Guards.MaxChurn = 0.05
	p.Sources = []source.Config{{Spec: feed.Spec{Name: "list", Kind: feed.KindURL}, URLs: []string{srv.URL}, AllowHTTP: true}}
	e := startEngine(t, p)
	defer e.Close(true)
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := e.Status().Compile; c.Added != n || c.Installed != n {
		t.Fatalf("first install added %d, installed %d; want %d", c.Added, c.Installed, n)
	}
	if got := dumpTable(t, DefaultTable); len(got) != n {
		t.Fatalf("table holds %d routes, want %d", len(got), n)
	}

	// Drop every 100th prefix, add as many new ones.
	var next []netip.Prefix
	for i, pfx := range base {
		if i%(n/changed) != 0 {
			next = append(next, pfx)
		}
	}
	next = append(next, cgnPrefixes(2, changed)...)
	srv.set("ok", prefixList(next))
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := e.Status().Compile
	if c.Added != changed || c.Deleted != changed || c.Unchanged != n-changed || c.Replaced != 0 {
		t.Errorf("update: added %d deleted %d replaced %d unchanged %d; want %d/%d/0/%d",
			c.Added, c.Deleted, c.Replaced, c.Unchanged, changed, changed, n-changed)
	}
	if got := dumpTable(t, DefaultTable); !samePrefixes(next, got) {
		t.Errorf("table holds %d routes, not the %d of the update", len(got), len(next))
	}
	t.Logf("1%% update: +%d -%d =%d in %s", c.Added, c.Deleted, c.Unchanged, c.InstallTook)
}
