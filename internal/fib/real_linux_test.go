package fib

import (
	"bufio"
	"compress/gzip"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// realPrefixFile is RouteViews' prefix-to-AS table of 2024-04-06 (CAIDA),
// in the shared data directory next to the repository.
const realPrefixFile = "../../../shared/data/bgp-caida-routeviews-prefix2as-v4-20240406.pfx2as.gz"

// realPrefixes reads the ~1 M real IPv4 prefixes, or skips without them.
func realPrefixes(b *testing.B) []netip.Prefix {
	f, err := os.Open(realPrefixFile)
	if err != nil {
		b.Skipf("real prefixes not available: %v", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		p, err := netip.ParsePrefix(fields[0] + "/" + fields[1])
		if err != nil || seen[p.Masked()] {
			continue
		}
		seen[p.Masked()] = true
		out = append(out, p.Masked())
	}
	return out
}

// BenchmarkRealInstall: the RouteViews set as one breakout set — a cold
// Sync (install), a no-op Sync, and a flush — each in a fresh namespace.
// Compare with `ip -batch` of the same routes (DESIGN: ≈ 37 s install).
func BenchmarkRealInstall(b *testing.B) {
	ps := realPrefixes(b)
	b.Logf("%d real prefixes", len(ps))
	took := map[string]time.Duration{}
	for b.Loop() {
		b.StopTimer()
		ns := newNS(b, 1)
		routes := Via(ps, Nexthop{Gateway: gw4(0), LinkIndex: ns.links[0]})
		b.StartTimer()
		for _, step := range []struct {
			name string
			set  []Route
			want SyncStats
		}{
			{"install", routes, SyncStats{Added: len(ps)}},
			{"again", routes, SyncStats{Unchanged: len(ps)}},
			{"flush", nil, SyncStats{Deleted: len(ps)}},
		} {
			t0 := time.Now()
			st, err := ns.h.Sync(testTable, testProto, step.set)
			took[step.name] += time.Since(t0)
			if err != nil || st != step.want {
				b.Fatalf("%s: %+v %v, want %+v", step.name, st, err, step.want)
			}
		}
	}
	for name, d := range took {
		b.ReportMetric(d.Seconds()/float64(b.N), "s/"+name)
	}
}
