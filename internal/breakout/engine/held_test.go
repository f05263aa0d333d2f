package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
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
	"github.com/uplinkd/uplinkd/internal/breakout/source"
)

// lists serves one prefix list per path, each replaceable.
type lists struct {
	*httptest.Server
	mu sync.Mutex
	m  map[string][]netip.Prefix
}

func newLists(t *testing.T) *lists {
	l := &lists{m: map[string][]netip.Prefix{}}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		ps, ok := l.m[strings.Trim(r.URL.Path, "/")]
		l.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		for _, p := range ps {
			fmt.Fprintln(w, p)
		}
	}))
	t.Cleanup(l.Close)
	return l
}

func (l *lists) set(name string, ps []netip.Prefix) {
	l.mu.Lock()
	l.m[name] = ps
	l.mu.Unlock()
}

// source is a url source of the list at name.
func (l *lists) source(name string) source.Config {
	return source.Config{Spec: feed.Spec{Name: name, Kind: feed.KindURL}, URLs: []string{l.URL + "/" + name}, AllowHTTP: true, Every: time.Hour}
}

// slots returns n /26 prefixes of 100.64.0.0/10 at slots 4i+off: no two
// of them aggregate, so they stay n routes.
func slots(off, n int) []netip.Prefix {
	out := make([]netip.Prefix, n)
	for i := range n {
		a := uint32(100)<<24 | uint32(64)<<16 + uint32(4*i+off)<<6
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), 26)
	}
	return out
}

// every8 is every unicast /8, 1.0.0.0/8 to 223.0.0.0/8.
func every8() []netip.Prefix {
	var out []netip.Prefix
	for i := 1; i <= 223; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(i)}), 8))
	}
	return out
}

// guardedPlan has the config's default limits.
func guardedPlan(dir string, srcs ...source.Config) Plan {
	p := fakePlan(dir, srcs...)
	p.Guards.MinBits4, p.Guards.MinBits6, p.Guards.MaxCount = 8, 16, 2_000_000
	p.Guards.MaxChurn, p.Guards.MaxGrowth = 0.5, 1
	p.Guards.MaxCoverage, p.Guards.MaxTotalCoverage = 0.10, 0.20
	// No idle connections to outlive the test's leak check.
	p.Fetcher = &fetch.Fetcher{Timeout: 2 * time.Second, Client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	return p
}

func sourceStatus(t *testing.T, e *Engine, name string) SourceStatus {
	t.Helper()
	for _, s := range e.Status().Sources {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no source %s in status", name)
	return SourceStatus{}
}

// savedEntries reads a source's set back from the state directory.
func savedEntries(t *testing.T, dir, name string) int {
	t.Helper()
	store, err := lkg.Open(filepath.Join(dir, "breakout"), discard)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := store.Get(name)
	return len(st.Entries)
}

func union(sets ...[]netip.Prefix) []netip.Prefix {
	return breakout.SortPrefixes(slices.Concat(sets...))
}

// TestHeldUpdate: a source whose feed shrinks from 1000 prefixes to 10 is
// held: the table and its saved set keep the 1000, status says why, and
// the other source's update goes in. After a reboot (an empty table, the
// same state directory) the saved 1000 are installed and the feed, still
// at 10, is held again. Accepting takes the 10, once.
func TestHeldUpdate(t *testing.T) {
	l := newLists(t)
	a, b := slots(0, 1000), slots(2, 100)
	l.set("a", a)
	l.set("b", b)
	dir := t.TempDir()
	p := guardedPlan(dir, l.source("a"), l.source("b"))
	k := newFakeKernel()
	e := startFake(t, p, k, &fakeProber{})
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitTable(t, k, "both installed", union(a, b))

	b2 := append(slices.Clone(b), slots(2, 110)[100:]...)
	l.set("a", a[:10])
	l.set("b", b2)
	err := e.RefreshNow(context.Background())
	var he *breakout.HoldError
	if !errors.As(err, &he) || !errors.Is(err, breakout.ErrChurn) || he.Source != "a" {
		t.Fatalf("refresh: %v; want a held for churn", err)
	}
	waitTable(t, k, "a's 1000 kept, b's update in", union(a, b2))
	if n := savedEntries(t, dir, "a"); n != 1000 {
		t.Errorf("a's saved set holds %d entries, want the 1000", n)
	}
	sa, sb := sourceStatus(t, e, "a"), sourceStatus(t, e, "b")
	if !sa.Held || sa.Prefixes != 1000 || sa.HeldPrefixes != 10 || sa.Stale ||
		sa.HeldReason != "update of source a held: it removes 990 of 1000 prefixes (99.0%, limit 50.0%)" {
		t.Errorf("a: %+v; want held with its reason, 1000 kept", sa)
	}
	if sb.Held || sb.Prefixes != 110 {
		t.Errorf("b: held %v, %d prefixes; want its update taken", sb.Held, sb.Prefixes)
	}

	// Reboot: the kernel forgot the table; the state directory did not.
	e.Close(false)
	k2 := newFakeKernel()
	e2 := startFake(t, p, k2, &fakeProber{})
	waitTable(t, k2, "the saved sets installed at start", union(a, b2))
	if err := e2.RefreshNow(context.Background()); !errors.Is(err, breakout.ErrChurn) {
		t.Fatalf("refresh after the reboot: %v; want a held again", err)
	}
	waitTable(t, k2, "a's 1000 kept after the reboot", union(a, b2))
	if s := sourceStatus(t, e2, "a"); !s.Held || s.Prefixes != 1000 {
		t.Errorf("a after the reboot: held %v, %d prefixes", s.Held, s.Prefixes)
	}

	if _, err := e2.Accept("nope"); !errors.Is(err, ErrNoSource) {
		t.Errorf("accept of an unknown source: %v", err)
	}
	if _, err := e2.Accept("b"); err == nil || !strings.Contains(err.Error(), "holds no update") {
		t.Errorf("accept of a source holding nothing: %v", err)
	}
	if got, err := e2.Accept("a"); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Fatalf("accept a: %v, %v", got, err)
	}
	waitTable(t, k2, "a's 10 taken", union(a[:10], b2))
	if n := savedEntries(t, dir, "a"); n != 10 {
		t.Errorf("a's saved set holds %d entries after accept, want 10", n)
	}
	l.set("a", a)
	if err := e2.RefreshNow(context.Background()); !errors.Is(err, breakout.ErrChurn) {
		t.Errorf("10 back to 1000 after the accept: %v; want held (accept is once)", err)
	}
}

// TestEverySlash8Held: a feed that adds every unicast /8 (87 % of IPv4)
// is held, whether the source had a set before or is new.
func TestEverySlash8Held(t *testing.T) {
	l := newLists(t)
	a := slots(0, 1000)
	l.set("a", a)
	l.set("flood", every8())
	p := guardedPlan(t.TempDir(), l.source("a"))
	k := newFakeKernel()
	e := startFake(t, p, k, &fakeProber{})
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.set("a", append(slices.Clone(a), every8()...))
	err := e.RefreshNow(context.Background())
	if !errors.Is(err, breakout.ErrCoverage) || !strings.Contains(err.Error(), "would cover 86.7% of the IPv4 address space (limit 10.0%)") {
		t.Fatalf("refresh: %v; want a held for coverage", err)
	}
	p.Sources = append(p.Sources, l.source("flood"))
	if err := e.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if err := e.RefreshNow(context.Background()); !errors.Is(err, breakout.ErrCoverage) {
		t.Fatalf("refresh with a new flooding source: %v; want it held too", err)
	}
	waitTable(t, k, "the table unchanged", a)
	for _, name := range []string{"a", "flood"} {
		if s := sourceStatus(t, e, name); !s.Held || !strings.Contains(s.HeldReason, "86.7%") {
			t.Errorf("%s: %+v; want held for coverage", name, s)
		}
	}
}
