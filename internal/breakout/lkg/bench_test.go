package lkg

import (
	"os"
	"testing"

	"github.com/uplinkd/uplinkd/internal/breakout/feed"
)

// BenchmarkPersistTable writes and restores the 998 k-row table as one
// source's state: the cost of a daily refresh and of a restart.
func BenchmarkPersistTable(b *testing.B) {
	body, err := os.ReadFile("../testdata/bgp-caida-routeviews-prefix2as-v4-20240406.pfx2as.gz")
	if err != nil {
		b.Fatal(err)
	}
	es, err := feed.ParsePfx2as(body, nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			if err := s.Success("table", es, Fetch{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s2, err := Open(dir, nil)
			if err != nil || len(s2.Problems()) != 0 {
				b.Fatal(err, s2.Problems())
			}
		}
	})
}
