package engine

import (
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
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
	peak := watchHeap()
	start := time.Now()
	e := startEngine(t, p)
	defer e.Close(true)
	// Start fetches a source it holds no set of at once: wait for that.
	eventually(t, time.Minute, "whole table installed", func() bool {
		return e.Status().Compile.Installed == len(want)
	})
	total := time.Since(start)
	objects, live := peak()
	t.Logf("heap during it, above the %d MB before: objects (live and garbage) peaked at %d MB, live data at %d MB",
		before>>20, (objects-before)>>20, (live-before)>>20)
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

// watchHeap samples the heap every millisecond until the function it
// returns is called, which returns the largest figures seen: the bytes in
// heap objects (live or garbage not yet swept) and the live bytes the
// collector found. A sample can miss a peak, never invent one.
func watchHeap() (stop func() (objects, live uint64)) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	done, over := make(chan struct{}), make(chan struct{})
	var objects, live uint64
	go func() {
		defer close(over)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			objects, live = max(objects, samples[0].Value.Uint64()), max(live, samples[1].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-over
		return objects, live
	}
}
