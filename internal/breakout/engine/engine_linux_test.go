package engine

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// awsTokyo is the EC2 ap-northeast-1 source over the real AWS fixture.
func awsTokyo(url string) source.Config {
	return source.Config{
		Spec: feed.Spec{Name: "aws", Kind: feed.KindAWS, Services: []string{"EC2"}, Regions: []string{"ap-northeast-1"}},
		URLs: []string{url}, AllowHTTP: true,
	}
}

// wantSet compiles what the engine should install, independently of it.
func wantSet(t *testing.T, p Plan, spec feed.Spec, body []byte) breakout.Result {
	t.Helper()
	es, err := spec.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := breakout.Compile(es, breakout.Options{Guards: guardsFor(p.withDefaults())})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// firstOf returns an address inside the first prefix of the wanted family.
func firstOf(ps []netip.Prefix, v6 bool) netip.Addr {
	for _, p := range ps {
		if p.Addr().Is6() == v6 {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// startAWS starts an engine on the EC2 Tokyo source (both families),
// after adjust changes its Plan, and returns it with the compiled set
// it should install, fetched and installed.
func startAWS(t *testing.T, adjust func(*Plan)) (*Engine, breakout.Result) {
	t.Helper()
	body := fixture(t, "aws-ip-ranges.json")
	srv := newFeedServer(t, body)
	p := basePlan(t, t.TempDir())
	p.Gateway6 = gateway6
	p.Sources = []source.Config{awsTokyo(srv.URL)}
	if adjust != nil {
		adjust(&p)
	}
	want := wantSet(t, p, p.Sources[0].Spec, body)
	e := startEngine(t, p)
	if err := e.RefreshNow(context.Background()); err != nil {
		e.Close(true)
		t.Fatalf("RefreshNow: %v", err)
	}
	return e, want
}

func TestInstallAWS(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	setupNet(t)
	e, want := startAWS(t, nil)
	defer e.Close(true)

	got := dumpTable(t, DefaultTable)
	if !samePrefixes(want.Prefixes, got) {
		t.Fatalf("table %d holds %d routes, want the %d compiled", DefaultTable, len(got), len(want.Prefixes))
	}
	st := e.Status()
	if st.Compile.Installed != len(want.Prefixes) || st.Compile.Desired != len(want.Prefixes) {
		t.Errorf("status installed %d desired %d, want %d", st.Compile.Installed, st.Compile.Desired, len(want.Prefixes))
	}
	t.Logf("installed %d EC2 ap-northeast-1 routes (%d entries) in %s", len(got), want.Accepted, st.Compile.InstallTook)

	in4, in6 := firstOf(want.Prefixes, false), firstOf(want.Prefixes, true)
	if r := routeGet(t, in4); !strings.Contains(r, "via "+gateway.String()) || !strings.Contains(r, "table 6100") {
		t.Errorf("ip route get %s = %q, want via %s table 6100", in4, r, gateway)
	}
	if r := routeGet(t, in6); !strings.Contains(r, "via "+gateway6.String()) || !strings.Contains(r, "table 6100") {
		t.Errorf("ip route get %s = %q, want via %s table 6100", in6, r, gateway6)
	}
	out := netip.MustParseAddr("198.18.7.7")
	if r := routeGet(t, out); !strings.Contains(r, "via "+hubGW.String()) || strings.Contains(r, "table") {
		t.Errorf("ip route get %s = %q, want the main table's default via %s", out, r, hubGW)
	}
	if r := ruleList(t, "6100"); strings.Count(r, "lookup 6100 proto 211") != 2 {
		t.Errorf("rules at 6100:\n%s\nwant one per family, lookup 6100 proto 211", r)
	}

	x, ok := e.Explain(in4)
	if !ok || len(x.Entries) == 0 || !strings.Contains(x.Entries[0].String(), "aws EC2 ap-northeast-1") {
		t.Errorf("Explain(%s) = %v, %v; want an aws EC2 ap-northeast-1 entry", in4, x, ok)
	}
	t.Logf("explain:\n%s", x)
	if _, ok := e.Explain(out); ok {
		t.Errorf("Explain(%s) found a breakout route", out)
	}

	if err := e.Close(true); err != nil {
		t.Fatalf("Close(flush): %v", err)
	}
	if n := len(dumpTable(t, DefaultTable)); n != 0 {
		t.Errorf("after a flush table 6100 holds %d routes", n)
	}
	if r := ruleList(t, "6100"); r != "" {
		t.Errorf("after a flush rules remain:\n%s", r)
	}
}

// TestFeedFailuresKeepRoutes: whatever the feed does wrong, the installed
// routes stay and the source is stale with an age.
func TestFeedFailuresKeepRoutes(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	setupNet(t)
	srv := newFeedServer(t, fixture(t, "aws-ip-ranges.json"))
	p := basePlan(t, t.TempDir())
	p.Sources = []source.Config{awsTokyo(srv.URL)}
	e := startEngine(t, p)
	defer e.Close(true)
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatalf("RefreshNow: %v", err)
	}
	before := dumpTable(t, DefaultTable)
	if len(before) == 0 {
		t.Fatal("nothing installed")
	}
	for _, mode := range []string{"500", "empty", "truncated", "huge", "hang"} {
		t.Run(mode, func(t *testing.T) {
			srv.set(mode, nil)
			time.Sleep(5 * time.Millisecond) // a nonzero age
			start := time.Now()
			err := e.RefreshNow(context.Background())
			if err == nil {
				t.Fatalf("RefreshNow succeeded on a %s feed", mode)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("refresh took %s; the fetch timeout is 1 s", took)
			}
			if after := dumpTable(t, DefaultTable); !samePrefixes(before, after) {
				t.Fatalf("routes changed: %d before, %d after", len(before), len(after))
			}
			s := e.Status().Sources[0]
			if !s.Stale || s.Age <= 0 || s.LastError == "" || s.Prefixes == 0 {
				t.Errorf("source status %+v, want stale with an age, an error and its prefixes", s)
			}
			t.Logf("%s: stale, age %s, error %q", mode, s.Age.Round(time.Millisecond), s.LastError)
		})
	}
}

// TestRestartFromDisk: a new Start with the feed gone installs the last
// good set from disk, adopting the routes an earlier run left (adds none);
// a table change moves the routes and sweeps the old table.
func TestRestartFromDisk(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	setupNet(t)
	srv := newFeedServer(t, fixture(t, "aws-ip-ranges.json"))
	dir := t.TempDir()
	p := basePlan(t, dir)
	p.Sources = []source.Config{awsTokyo(srv.URL)}
	e := startEngine(t, p)
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatalf("RefreshNow: %v", err)
	}
	want := dumpTable(t, DefaultTable)
	if err := e.Close(false); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	t.Run("adopt", func(t *testing.T) {
		e := startEngine(t, p)
		defer e.Close(false)
		st := e.Status()
		if got := dumpTable(t, DefaultTable); !samePrefixes(want, got) {
			t.Fatalf("after restart table holds %d, want %d", len(got), len(want))
		}
		if c := st.Compile; c.Added != 0 || c.Deleted != 0 || c.Unchanged != len(want) {
			t.Errorf("restart sync added %d deleted %d unchanged %d, want 0/0/%d", c.Added, c.Deleted, c.Unchanged, len(want))
		}
		if s := st.Sources[0]; !s.Restored || s.Prefixes == 0 {
			t.Errorf("source %+v, want restored from disk", s)
		}
	})
	t.Run("empty store", func(t *testing.T) {
		// With the sets lost, the churn guard must keep the adopted routes.
		q := p
		q.StateDir = t.TempDir()
		q.Guards.MaxChurn = 0.1
		e := startEngine(t, q)
		defer e.Close(false)
		if got := dumpTable(t, DefaultTable); !samePrefixes(want, got) {
			t.Fatalf("a start with no state withdrew routes: %d left of %d", len(got), len(want))
		}
		if c := e.Status().Compile; !c.ChurnBlocked || c.Pending != len(want) {
			t.Errorf("compile %+v, want churn-blocked with %d pending", c, len(want))
		}
	})
	t.Run("new table", func(t *testing.T) {
		q := p
		q.Table = 6200
		e := startEngine(t, q)
		defer e.Close(true)
		if got := dumpTable(t, 6200); !samePrefixes(want, got) {
			t.Fatalf("table 6200 holds %d, want %d", len(got), len(want))
		}
		if n := len(dumpTable(t, DefaultTable)); n != 0 {
			t.Errorf("old table 6100 still holds %d routes", n)
		}
		if r := ruleList(t, "6100"); strings.Count(r, "lookup 6200") != 2 || strings.Contains(r, "lookup 6100") {
			t.Errorf("rules at 6100:\n%s\nwant lookup 6200 only", r)
		}
	})
}

// TestMaxChurnAndForce: an update removing more than the limit is held:
// the table keeps the set; a reload with force takes it once.
func TestMaxChurnAndForce(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	setupNet(t)
	base := cgnPrefixes(0, 1000)
	srv := newFeedServer(t, prefixList(base))
	p := basePlan(t, t.TempDir())
	p.Guards.MaxChurn = 0.1
	p.Sources = []source.Config{{Spec: feed.Spec{Name: "list", Kind: feed.KindURL}, URLs: []string{srv.URL}, AllowHTTP: true}}
	e := startEngine(t, p)
	defer e.Close(true)
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.set("ok", prefixList(base[:700]))
	err := e.RefreshNow(context.Background())
	if !errors.Is(err, breakout.ErrChurn) {
		t.Fatalf("RefreshNow = %v, want a churn refusal", err)
	}
	if got := dumpTable(t, DefaultTable); len(got) != 1000 {
		t.Fatalf("a refused update changed the table: %d routes", len(got))
	}
	if s := e.Status().Sources[0]; !s.Held || s.HeldPrefixes != 700 || s.Prefixes != 1000 || !strings.Contains(s.HeldReason, "removes 300 of 1000 prefixes") {
		t.Errorf("source %+v, want held with 700, keeping 1000", s)
	}
	p.Force = true
	if err := e.Apply(context.Background(), p); err != nil {
		t.Fatalf("Apply with force: %v", err)
	}
	if got := dumpTable(t, DefaultTable); len(got) != 700 {
		t.Fatalf("forced update: %d routes, want 700", len(got))
	}
	if s, c := e.Status().Sources[0], e.Status().Compile; s.Held || c.Deleted != 300 {
		t.Errorf("source held %v, %d deleted; want the update taken, 300 deleted", s.Held, c.Deleted)
	}
	// Force took that update; the next one is guarded again.
	srv.set("ok", prefixList(base[:300]))
	if err := e.RefreshNow(context.Background()); !errors.Is(err, breakout.ErrChurn) {
		t.Errorf("the update after a forced one: %v, want held again", err)
	}
}
