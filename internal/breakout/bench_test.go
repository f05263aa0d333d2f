package breakout_test

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
)

const table = "testdata/bgp-caida-routeviews-prefix2as-v4-20240406.pfx2as.gz"

var (
	tableOnce    sync.Once
	tableEntries []breakout.Entry
)

// loadBody reads the gzip'd 998,042-row CAIDA table.
func loadBody(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(table)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// loadTable parses the table once per test binary.
func loadTable(tb testing.TB) []breakout.Entry {
	tb.Helper()
	tableOnce.Do(func() {
		es, err := feed.ParsePfx2as(loadBody(tb), nil)
		if err != nil {
			tb.Fatal(err)
		}
		tableEntries = es
	})
	if tableEntries == nil {
		tb.Fatal("table failed to load")
	}
	return tableEntries
}

// TestCompileWholeTable: the whole table passes the guards (it has no
// default route and nothing shorter than /8) and aggregates to 159,266
// prefixes (python3: len(list(ipaddress.collapse_addresses(all rows)))).
func TestCompileWholeTable(t *testing.T) {
	if testing.Short() {
		t.Skip("large table")
	}
	es := loadTable(t)
	before := heapAlloc()
	res, err := breakout.Compile(es, breakout.Options{Guards: breakout.Guards{MinBits4: 8, MinBits6: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 998042 || len(res.Prefixes) != 159266 {
		t.Errorf("accepted %d, aggregated to %d; want 998042 and 159266", res.Accepted, len(res.Prefixes))
	}
	// What the result keeps while the set is installed: the index's 4
	// bytes an entry, the aggregated set and the prefixes to add (32 bytes
	// each), with no spare room past a tenth.
	kept := heapAlloc() - before
	exact := 4*len(es) + 32*(len(res.Prefixes)+len(res.Add))
	t.Logf("the compiled result keeps %.1f MB (%.1f MB exactly needed)", float64(kept)/1e6, float64(exact)/1e6)
	if kept > uint64(exact)*11/10 {
		t.Errorf("the compiled result keeps %d bytes, want ≤ %d (its lists sized to their contents)", kept, exact*11/10)
	}
	// 1.0.0.0/24 is Cloudflare's (AS13335) in the table.
	got := res.Index.Lookup(netip.MustParseAddr("1.0.0.1"))
	if len(got) != 1 || got[0].ASN != 13335 {
		t.Errorf("Lookup(1.0.0.1) = %v, want the AS13335 row", got)
	}
}

// heapAlloc is the live heap after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func BenchmarkParsePfx2as(b *testing.B) {
	body := loadBody(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := feed.ParsePfx2as(body, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAggregateTable(b *testing.B) {
	es := loadTable(b)
	ps := breakout.Prefixes(es)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(breakout.Aggregate(ps))
	}
	b.ReportMetric(float64(n), "prefixes")
}

// BenchmarkCompileTable: guards, index and aggregation of the whole table.
func BenchmarkCompileTable(b *testing.B) {
	es := loadTable(b)
	g := breakout.Guards{MinBits4: 8, Protected: []breakout.Protected{{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Label: "hub"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := breakout.Compile(es, breakout.Options{Guards: g}); err != nil {
			b.Fatal(err)
		}
	}
}

// churned returns 1 M distinct /24s and a copy with 1 % replaced.
func churned() (prev, next []netip.Prefix) {
	const n = 1_000_000
	r := rand.New(rand.NewPCG(1, 2))
	perm := r.Perm(1 << 22) // /24s in 16.0.0.0/2 .. plenty of room
	toPrefix := func(i int) netip.Prefix {
		a := uint32(16<<24) + uint32(i)<<8
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), 0}), 24)
	}
	for _, i := range perm[:n] {
		prev = append(prev, toPrefix(i))
	}
	next = append(next, prev[n/100:]...)
	for _, i := range perm[n : n+n/100] {
		next = append(next, toPrefix(i))
	}
	return breakout.SortPrefixes(prev), breakout.SortPrefixes(next)
}

func BenchmarkDiff1M(b *testing.B) {
	prev, next := churned()
	b.ReportAllocs()
	for b.Loop() {
		add, del := breakout.Diff(prev, next)
		if len(add) != 10000 || len(del) != 10000 {
			b.Fatalf("add %d del %d", len(add), len(del))
		}
	}
}

// BenchmarkDiffMap1M is the hashing alternative Diff was measured against.
func BenchmarkDiffMap1M(b *testing.B) {
	prev, next := churned()
	b.ReportAllocs()
	for b.Loop() {
		old := make(map[netip.Prefix]struct{}, len(prev))
		for _, p := range prev {
			old[p] = struct{}{}
		}
		var add, del []netip.Prefix
		for _, p := range next {
			if _, ok := old[p]; ok {
				delete(old, p)
			} else {
				add = append(add, p)
			}
		}
		for p := range old {
			del = append(del, p)
		}
		if len(add) != 10000 || len(del) != 10000 {
			b.Fatalf("add %d del %d", len(add), len(del))
		}
	}
}

// BenchmarkParseAndCompileTable is the whole path for the largest source:
// unpack and parse the table, guards, index, aggregate.
func BenchmarkParseAndCompileTable(b *testing.B) {
	body := loadBody(b)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		es, err := feed.ParsePfx2as(body, nil)
		if err != nil {
			b.Fatal(err)
		}
		res, err := breakout.Compile(es, breakout.Options{Guards: breakout.Guards{MinBits4: 8}})
		if err != nil {
			b.Fatal(err)
		}
		n = len(res.Prefixes)
	}
	b.ReportMetric(float64(n), "prefixes")
}

// BenchmarkCheckUpdateTable: the gate a fetched set passes before it
// replaces the saved one, for the whole table against itself with 1 %
// dropped: guards, sort, diff, coverage.
func BenchmarkCheckUpdateTable(b *testing.B) {
	es := loadTable(b)
	next := es[:len(es)*99/100]
	g := breakout.Guards{MinBits4: 8, MaxCount: 2_000_000, MaxChurn: 0.5, MaxGrowth: 1, MinChurn: 16}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := breakout.CheckUpdate(g, breakout.Update{Source: "table", Previous: es, Next: next}); err != nil {
			b.Fatal(err)
		}
	}
}
