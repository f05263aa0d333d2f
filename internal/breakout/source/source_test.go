package source

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/fetch"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// feedServer serves the real AWS fixture, or misbehaves as mode says.
type feedServer struct {
	mu   sync.Mutex
	mode string
	body []byte
}

func (s *feedServer) set(mode string) { s.mu.Lock(); s.mode = mode; s.mu.Unlock() }

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode := s.mode
	s.mu.Unlock()
	switch mode {
	case "ok":
		w.Header().Set("ETag", `"fixture"`)
		if r.Header.Get("If-None-Match") == `"fixture"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(s.body)
	case "500":
		http.Error(w, "boom", http.StatusInternalServerError)
	case "empty":
	case "truncated":
		w.Write(s.body[:len(s.body)/3])
	case "huge": // 50 MB, streamed without Content-Length
		chunk := []byte(strings.Repeat(" ", 1<<20))
		for range 50 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case "hang":
		<-r.Context().Done()
	}
}

func TestRefreshKeepsLastGood(t *testing.T) {
	body, err := os.ReadFile("../testdata/aws-ip-ranges.json")
	if err != nil {
		t.Fatal(err)
	}
	fs := &feedServer{mode: "ok", body: body}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	dir := t.TempDir()
	store, err := lkg.Open(dir, discard)
	if err != nil {
		t.Fatal(err)
	}
	r := &Refresher{Fetcher: &fetch.Fetcher{Timeout: 300 * time.Millisecond, Backoff: time.Millisecond}, Store: store, Log: discard}
	src := Config{Spec: feed.Spec{Name: "aws-ec2", Kind: feed.KindAWS, Services: []string{"EC2"}}, URLs: []string{srv.URL}, AllowHTTP: true}
	const ec2 = 1457 + 1566 // EC2 v4 + v6 records in the fixture (see feed tests)

	out := r.Refresh(context.Background(), src)
	if out.Err != nil || out.Entries != ec2 || !out.Changed {
		t.Fatalf("first refresh: %+v", out)
	}
	out = r.Refresh(context.Background(), src)
	if out.Err != nil || !out.NotModified || out.Entries != ec2 {
		t.Fatalf("second refresh, want 304: %+v", out)
	}
	for _, mode := range []string{"500", "empty", "truncated", "huge", "hang"} {
		t.Run(mode, func(t *testing.T) {
			fs.set(mode)
			out := r.Refresh(context.Background(), src)
			if out.Err == nil || out.Entries != ec2 {
				t.Fatalf("outcome %+v, want an error and the %d entries kept", out, ec2)
			}
			st, _ := store.Get("aws-ec2")
			if !st.Stale() || len(st.Entries) != ec2 {
				t.Errorf("store: stale %v, %d entries", st.Stale(), len(st.Entries))
			}
		})
	}
	fs.set("ok")
	if out := r.Refresh(context.Background(), src); out.Err != nil || !out.NotModified {
		t.Errorf("recovery: %+v", out)
	}
	if st, _ := store.Get("aws-ec2"); st.Stale() {
		t.Error("still stale after recovery")
	}

	// Restart with the feed down: the last good set comes back from disk.
	srv.Close()
	store2, err := lkg.Open(dir, discard)
	if err != nil {
		t.Fatal(err)
	}
	r2 := &Refresher{Fetcher: r.Fetcher, Store: store2, Log: discard}
	out = r2.Refresh(context.Background(), src)
	st, _ := store2.Get("aws-ec2")
	if out.Err == nil || len(st.Entries) != ec2 || !st.Stale() {
		t.Errorf("after restart with feed down: outcome %+v, %d entries, stale %v", out, len(st.Entries), st.Stale())
	}
	if !containsPrefix(store2, "3.112.0.0/14") {
		t.Error("restored set lacks 3.112.0.0/14 (EC2 ap-northeast-1)")
	}
}

func containsPrefix(s *lkg.Store, p string) bool {
	want := netip.MustParsePrefix(p)
	for _, e := range s.Entries() {
		if e.Prefix() == want {
			return true
		}
	}
	return false
}

func TestRefreshStaticAndFile(t *testing.T) {
	dir := t.TempDir()
	store, _ := lkg.Open(filepath.Join(dir, "state"), discard)
	r := &Refresher{Fetcher: &fetch.Fetcher{}, Store: store, Log: discard}
	good := filepath.Join(dir, "AS2906_NETFLIX.yml")
	os.WriteFile(good, []byte("- asn: 2906\n  name: NETFLIX\n  routes:\n  - ip: 23.246.0.0/18\n"), 0o600)
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("- name: X\n  routes:\n  - ip: 10.0.0.0/8\n    rgion: x\n"), 0o600)

	static := Config{Spec: feed.Spec{Name: "static", Kind: feed.KindStatic, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}}
	if out := r.Refresh(context.Background(), static); out.Err != nil || out.Entries != 1 {
		t.Errorf("static: %+v", out)
	}
	file := Config{Spec: feed.Spec{Name: "files", Kind: feed.KindFile}, Files: []string{good}}
	if out := r.Refresh(context.Background(), file); out.Err != nil || out.Entries != 1 {
		t.Fatalf("file: %+v", out)
	}
	file.Files = append(file.Files, bad)
	out := r.Refresh(context.Background(), file)
	if out.Err == nil || !strings.Contains(out.Err.Error(), "bad.yml") || !strings.Contains(out.Err.Error(), "line 4") || out.Entries != 1 {
		t.Errorf("bad file: %+v", out)
	}
	if !errors.Is(r.Refresh(context.Background(), Config{Spec: feed.Spec{Name: "none", Kind: feed.KindStatic}}).Err, feed.ErrEmpty) {
		t.Error("static source without prefixes accepted")
	}
}

// TestChangedSettingsAreNotConfirmedBy304: a source whose filter changed
// (a reload, or an edit while the daemon was down) fetches its feed whole:
// a conditional GET answered 304 would keep the set of the old filter.
func TestChangedSettingsAreNotConfirmedBy304(t *testing.T) {
	body, err := os.ReadFile("../testdata/aws-ip-ranges.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&feedServer{mode: "ok", body: body})
	defer srv.Close()
	store, err := lkg.Open(t.TempDir(), discard)
	if err != nil {
		t.Fatal(err)
	}
	r := &Refresher{Fetcher: &fetch.Fetcher{Timeout: time.Second}, Store: store, Log: discard}
	ec2 := Config{Spec: feed.Spec{Name: "aws", Kind: feed.KindAWS, Services: []string{"EC2"}}, URLs: []string{srv.URL}, AllowHTTP: true}
	if out := r.Refresh(context.Background(), ec2); out.Err != nil || out.Entries != 1457+1566 {
		t.Fatalf("first refresh: %+v", out)
	}
	if out := r.Refresh(context.Background(), ec2); !out.NotModified {
		t.Fatalf("same settings again: %+v, want a 304", out)
	}
	s3 := ec2
	s3.Spec.Services = []string{"S3"}
	out := r.Refresh(context.Background(), s3)
	st, _ := store.Get("aws")
	if out.Err != nil || out.NotModified || !out.Changed || st.Spec != s3.Fingerprint() {
		t.Fatalf("after the filter changed: %+v, stored for %q; want a whole fetch for %q", out, st.Spec, s3.Fingerprint())
	}
	for _, e := range st.Entries {
		if e.Service() != "S3" {
			t.Fatalf("entry %v of service %s kept after the filter became S3", e.Prefix(), e.Service())
		}
	}
}

// TestFingerprint: what the set depends on changes it, the refresh
// interval does not, and it is the same from run to run.
func TestFingerprint(t *testing.T) {
	base := Config{Spec: feed.Spec{Name: "aws", Kind: feed.KindAWS, Services: []string{"EC2"}}, URLs: []string{"http://198.51.100.1/ip-ranges.json"}, Every: time.Hour}
	if base.Fingerprint() != base.Fingerprint() || len(base.Fingerprint()) != 24 {
		t.Fatalf("fingerprint %q not stable or not 24 hex digits", base.Fingerprint())
	}
	slower := base
	slower.Every = 24 * time.Hour
	if slower.Fingerprint() != base.Fingerprint() {
		t.Error("the refresh interval changed the fingerprint")
	}
	for name, edit := range map[string]func(c *Config){
		"url":    func(c *Config) { c.URLs = []string{"http://198.51.100.2/ip-ranges.json"} },
		"filter": func(c *Config) { c.Spec.Regions = []string{"ap-northeast-1"} },
		"header": func(c *Config) {
			c.Spec.Meta = breakout.NewEntry(netip.Prefix{}, 16509, breakout.Attrs{Name: "AMAZON"})
		},
		"type": func(c *Config) { c.Spec.Kind = feed.KindURL },
	} {
		c := base
		c.Spec.Services = slices.Clone(base.Spec.Services)
		edit(&c)
		if c.Fingerprint() == base.Fingerprint() {
			t.Errorf("changing the %s left the fingerprint alone", name)
		}
	}
}
