package engine

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout/dnsfeed/dnstest"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/fetch"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
)

// TestDNSAnswersExpire: with the resolver and the feed server both gone,
// the dns source's answers leave the table once their TTL is past, while
// the url source keeps its last good set.
func TestDNSAnswersExpire(t *testing.T) {
	dnsSrv := dnstest.Start(t, "media.example.net. 2 IN A 192.0.2.1")
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("203.0.113.0/24\n"))
	}))
	defer feedSrv.Close()
	const every = 100 * time.Millisecond // under source.MinTTL, so a 2 s TTL is honoured as is
	p := fakePlan(t.TempDir(),
		source.Config{Spec: feed.Spec{Name: "media", Kind: feed.KindDNS}, Names: []string{"media.example.net"}, Resolver: dnsSrv.Addr, Every: every},
		source.Config{Spec: feed.Spec{Name: "list", Kind: feed.KindURL}, URLs: []string{feedSrv.URL}, Every: every, AllowHTTP: true})
	p.Fetcher = &fetch.Fetcher{Timeout: 200 * time.Millisecond}
	k := newFakeKernel()
	e := startFake(t, p, k, &fakeProber{})
	both := pfxs("192.0.2.1/32", "203.0.113.0/24")
	waitTable(t, k, "both sources installed", both)
	x, ok := e.Explain(netip.MustParseAddr("192.0.2.1"))
	if !ok || len(x.Entries) != 1 || !strings.Contains(x.Entries[0].String(), "media.example.net") {
		t.Errorf("Explain = %v, %v; want the name that put the route there", x, ok)
	}

	dnsSrv.Stop()
	feedSrv.Close()
	time.Sleep(500 * time.Millisecond)
	if got := k.prefixes(DefaultTable); !slices.Equal(got, both) {
		t.Errorf("before the TTL is out, table = %v, want %v", got, both)
	}
	waitTable(t, k, "the expired answer dropped, the feed's set kept", pfxs("203.0.113.0/24"))
	for _, s := range e.Status().Sources {
		if !s.Stale {
			t.Errorf("source %s not stale with its server gone", s.Name)
		}
	}
}

func waitTable(t *testing.T, k *fakeKernel, what string, want []netip.Prefix) {
	t.Helper()
	for start := time.Now(); !slices.Equal(k.prefixes(DefaultTable), want); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: table = %v, want %v", what, k.prefixes(DefaultTable), want)
		}
	}
}
