package feed

import (
	"bytes"
	"compress/gzip"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// repeated returns n copies of line, gzip'd when zip.
func repeated(t testing.TB, line string, n int, zip bool) []byte {
	t.Helper()
	size := n * len(line)
	chunk := bytes.Repeat([]byte(line), 1<<16/len(line))
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
	} = &buf
	var zw *gzip.Writer
	if zip {
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w = zw
	}
	for done := 0; done < size; done += len(chunk) {
		w.Write(chunk[:min(len(chunk), size-done)])
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

// TestParseWithinLimits: a body that unpacks past MaxBytes, or that lists
// more than MaxEntries entries (duplicates counted), is refused, whatever
// the format; one within both is parsed.
func TestParseWithinLimits(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 20, MaxEntries: 1000}
	aws := `{"syncToken":"1","prefixes":[` + strings.Repeat(`{"ip_prefix":"3.0.0.0/15","region":"r","service":"EC2","network_border_group":"r"},`, 1000) +
		`{"ip_prefix":"3.0.0.0/15","region":"r","service":"EC2","network_border_group":"r"}],"ipv6_prefixes":[]}`
	tests := []struct {
		name    string
		spec    Spec
		body    []byte
		want    error
		entries int
	}{
		{"gzip bomb", Spec{Kind: KindURL}, repeated(t, "198.18.0.0/24\n", 64<<20/14, true), ErrTooLarge, 0},
		{"plain list past the entries", Spec{Kind: KindURL}, repeated(t, "198.18.0.0/24\n", 1001, false), ErrTooMany, 0},
		{"gzip'd list past the entries", Spec{Kind: KindURL}, repeated(t, "198.18.0.0/24\n", 1001, true), ErrTooMany, 0},
		{"pfx2as past the entries", Spec{Kind: KindASN}, repeated(t, "198.18.0.0\t24\t2906\n", 1001, true), ErrTooMany, 0},
		{"prefix-origin past the entries", Spec{Kind: KindASN}, repeated(t, "198.18.0.0/24\t2906\n", 1001, false), ErrTooMany, 0},
		{"pfx2as filtered within", Spec{Kind: KindASN, ASNs: []uint32{2906}}, append([]byte("198.18.0.0\t24\t2906\n"), repeated(t, "198.19.0.0\t24\t1\n", 5000, false)...), nil, 1},
		{"json past the entries", Spec{Kind: KindAWS}, []byte(aws), ErrTooMany, 0},
		{"list at the limit", Spec{Kind: KindURL}, repeated(t, "198.18.0.0/24\n", 1000, true), nil, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := tt.spec.ParseWithin(lim, tt.body)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if len(es) != tt.entries {
				t.Errorf("%d entries, want %d", len(es), tt.entries)
			}
		})
	}
}

// TestGzipBombCostsTheLimit: refusing a bomb costs about MaxBytes of
// memory, not what it would unpack to (64 MB here, 250 MB in the report
// that found it).
func TestGzipBombCostsTheLimit(t *testing.T) {
	bomb := repeated(t, "198.18.0.0/24\n", 64<<20/14, true)
	lim := Limits{MaxBytes: 4 << 20}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Spec{Kind: KindURL}.ParseWithin(lim, bomb)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d-byte gzip of 64 MB refused at MaxBytes %d after allocating %d bytes", len(bomb), lim.MaxBytes, alloc)
	if alloc > 2*uint64(lim.MaxBytes) {
		t.Errorf("allocated %d bytes to refuse it, more than twice MaxBytes (%d)", alloc, lim.MaxBytes)
	}
}
