package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/fetch"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
)

// gzipRepeat is line repeated to size bytes, gzip'd: a few hundred KB
// for 250 MB, the bomb found in review.
func gzipRepeat(t *testing.T, line string, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	chunk := bytes.Repeat([]byte(line), 1<<16)
	for n := 0; n < size; n += len(chunk) {
		zw.Write(chunk)
	}
	zw.Close()
	return buf.Bytes()
}

// memPeak samples the heap until stop is called and returns its peak and
// the bytes allocated meanwhile (an upper bound of the growth the sampler
// might miss between samples).
func memPeak() (stop func() (peak, alloc uint64)) {
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak.Store(max(peak.Load(), m.HeapAlloc))
			select {
			case <-quit:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() (uint64, uint64) {
		close(quit)
		<-done
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		return peak.Load() - min(peak.Load(), before.HeapAlloc), after.TotalAlloc - before.TotalAlloc
	}
}

// TestFeedBombs: a feed past max_feed_mb unpacked, or past max_entries
// (one line repeated: it aggregates to a single prefix, so the count after
// aggregation never saw it), is refused while being read. It costs no more
// memory than the limits allow, the last good set stays in memory and on
// disk, and nothing of the bomb is saved.
func TestFeedBombs(t *testing.T) {
	const maxBytes, maxEntries = 32 << 20, 2_000_000 // the config's defaults
	tests := []struct {
		name  string
		body  []byte
		want  error
		bound uint64 // bytes the refusal may allocate
	}{
		// 509 KB of gzip for 250 MB of one line.
		{"past max_feed_mb", gzipRepeat(t, "198.18.0.0/24\n", 250<<20), feed.ErrTooLarge, 2 * maxBytes},
		// 31 MB unpacked, under max_feed_mb, but 2.3 M lines.
		{"past max_entries", gzipRepeat(t, "198.18.0.0/24\n", 31<<20), feed.ErrTooMany, 2*maxBytes + 48*maxEntries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body atomic.Value
			body.Store([]byte("198.51.100.0/25\n203.0.113.0/24\n198.18.7.0/24\n"))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body.Load().([]byte)) }))
			defer srv.Close()
			dir := t.TempDir()
			store, err := lkg.Open(dir, discard)
			if err != nil {
				t.Fatal(err)
			}
			r := &Refresher{Fetcher: &fetch.Fetcher{Timeout: time.Minute, MaxBytes: maxBytes}, Store: store, Log: discard,
				Limits: feed.Limits{MaxBytes: maxBytes, MaxEntries: maxEntries}}
			src := Config{Spec: feed.Spec{Name: "list", Kind: feed.KindURL}, URLs: []string{srv.URL}, AllowHTTP: true}
			if out := r.Refresh(context.Background(), src); out.Err != nil || out.Entries != 3 {
				t.Fatalf("good feed: %+v", out)
			}
			file := filepath.Join(dir, "list.state")
			saved, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}

			body.Store(tt.body)
			stop := memPeak()
			out := r.Refresh(context.Background(), src)
			peak, alloc := stop()
			t.Logf("%d-byte gzip refused: %v; heap peak +%d MB, %d MB allocated", len(tt.body), out.Err, peak>>20, alloc>>20)
			if !errors.Is(out.Err, tt.want) {
				t.Fatalf("refresh error %v, want %v", out.Err, tt.want)
			}
			if alloc > tt.bound {
				t.Errorf("refusing it allocated %d MB, more than the limits allow (%d MB)", alloc>>20, tt.bound>>20)
			}
			st, _ := store.Get("list")
			if len(st.Entries) != 3 || !st.Stale() {
				t.Errorf("after the bomb: %d entries, stale %v; want the 3 good ones, stale", len(st.Entries), st.Stale())
			}
			if now, _ := os.ReadFile(file); !bytes.Equal(now, saved) {
				t.Errorf("the state file changed: %d bytes, was %d", len(now), len(saved))
			}
			if extra, _ := filepath.Glob(filepath.Join(dir, "*")); len(extra) != 1 {
				t.Errorf("state directory holds %v", extra)
			}
		})
	}
}
