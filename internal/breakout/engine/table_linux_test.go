package engine

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// TestWholeTable installs the real 998 k-prefix RouteViews table, served
// as an asn source with no ASN filter, and checks the kernel holds exactly
// the compiled set.
func TestWholeTable(t *testing.T) {
	if testing.Short() {
		t.Skip("installs ~1 M routes; skipped under -short")
	}
	if !nstest.Enter(t) {
		return
	}
	setupNet(t)
	body := fixture(t, "bgp-caida-routeviews-prefix2as-v4-20240406.pfx2as.gz")
	srv := newFeedServer(t, body)
	p := basePlan(t, t.TempDir())
	p.Fetcher.Timeout = 20 * time.Second
	p.Sources = []source.Config{{Spec: feed.Spec{Name: "routeviews", Kind: feed.KindASN}, URLs: []string{srv.URL}, AllowHTTP: true}}
	want := wantSet(t, p, p.Sources[0].Spec, body).Prefixes // the reference's entries can go
	before := heapInUse()
	start := time.Now()
	e := startEngine(t, p)
	defer e.Close(true)
	// Start fetches a source it holds no set of at once: wait for that.
	eventually(t, time.Minute, "whole table installed", func() bool {
		return e.Status().Compile.Installed == len(want)
	})
	total := time.Since(start)
	c := e.Status().Compile
	t.Logf("whole table: %d entries -> %d routes after aggregation; Start to installed %s (fetch, parse, persist, compile, install); compile %s; install (Sync) %s, added %d",
		c.Accepted, c.Installed, total.Round(time.Millisecond), c.CompileTook.Round(time.Millisecond), c.InstallTook.Round(time.Millisecond), c.Added)

	t.Logf("engine heap after install (last good set, index, installed set): %d MB", (heapInUse()-before)>>20)

	got := dumpTable(t, DefaultTable)
	if !samePrefixes(want, got) {
		t.Fatalf("table holds %d routes, want the %d compiled", len(got), len(want))
	}
	if c.Installed != len(want) || c.Added != len(want) {
		t.Errorf("status installed %d added %d, want %d", c.Installed, c.Added, len(want))
	}
	for range 5 {
		pfx := want[rand.IntN(len(want))]
		a := pfx.Addr()
		if r := routeGet(t, a); !strings.Contains(r, "via "+gateway.String()) || !strings.Contains(r, "table 6100") {
			t.Errorf("ip route get %s (in %s) = %q, want via the gateway", a, pfx, r)
		}
	}
	start = time.Now()
	e.repair()
	if rb := e.Status().ReadBack; rb.RouteRepairs != 0 || rb.RuleRepairs != 0 || rb.LastError != "" {
		t.Errorf("a read-back of an untouched table repaired something: %+v", rb)
	}
	t.Logf("read-back of %d routes with nothing to repair: %s", len(got), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := e.Close(true); err != nil {
		t.Fatal(err)
	}
	t.Logf("flush of %d routes: %s", len(got), time.Since(start).Round(time.Millisecond))
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
