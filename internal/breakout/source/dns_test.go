package source

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/dnsfeed/dnstest"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
)

// TestRefreshDNS: answers are stored with the source's name and header;
// when the resolver fails, each stays until its own TTL, then goes.
func TestRefreshDNS(t *testing.T) {
	srv := dnstest.Start(t,
		"media.example.net. 0 IN A 192.0.2.1", // TTL 0: lives as long as the source's Every
		"api.example.net. 3600 IN A 198.51.100.7")
	dir := t.TempDir()
	store, err := lkg.Open(dir, discard)
	if err != nil {
		t.Fatal(err)
	}
	r := &Refresher{Store: store, Log: discard}
	const every = 200 * time.Millisecond
	src := Config{Spec: feed.Spec{Name: "media", Kind: feed.KindDNS, Meta: breakout.NewEntry(netip.Prefix{}, 0, breakout.Attrs{Category: "streaming"})},
		Names: []string{"media.example.net", "api.example.net"}, Resolver: srv.Addr, Every: every}

	out := r.Refresh(context.Background(), src)
	if out.Err != nil || out.Entries != 2 || !out.Changed || out.Next <= 0 || out.Next > every {
		t.Fatalf("first refresh = %+v, want 2 entries and Next within %s", out, every)
	}
	st, _ := store.Get("media")
	want := []breakout.Entry{
		breakout.NewEntry(netip.MustParsePrefix("192.0.2.1/32"), 0, breakout.Attrs{Source: "media", Category: "streaming", Name: "media.example.net"}),
		breakout.NewEntry(netip.MustParsePrefix("198.51.100.7/32"), 0, breakout.Attrs{Source: "media", Category: "streaming", Name: "api.example.net"}),
	}
	if diff := cmp.Diff(want, st.Entries, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("stored entries (-want +got):\n%s", diff)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("dns answers were written to disk: %v", files)
	}

	srv.Stop()
	time.Sleep(every + 50*time.Millisecond) // media's answer is past its life, api's is not
	out = r.Refresh(context.Background(), src)
	if out.Err == nil || out.Entries != 1 || out.Next < 59*time.Minute {
		t.Fatalf("refresh with the resolver down = %+v, want an error, api's answer kept for its hour", out)
	}
	st, _ = store.Get("media")
	if len(st.Entries) != 1 || st.Entries[0].Name() != "api.example.net" || !st.Stale() {
		t.Errorf("after expiry the store holds %v (stale %v), want only api's answer", st.Entries, st.Stale())
	}
}
