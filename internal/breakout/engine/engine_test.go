package engine

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
)

var netipOpt = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})

func pfxs(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func static(name string, ps ...string) source.Config {
	return source.Config{Spec: feed.Spec{Name: name, Kind: feed.KindStatic, Prefixes: pfxs(ps...)}}
}

func fakePlan(dir string, srcs ...source.Config) Plan {
	return Plan{
		Gateway: netip.MustParseAddr("198.51.100.2"), StateDir: dir, Sources: srcs,
		Guards: breakout.Guards{Protected: []breakout.Protected{{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Label: "lan"}}},
		Health: Health{Disabled: true},
	}
}

func startFake(t *testing.T, p Plan, k *fakeKernel, pr *fakeProber) *Engine {
	t.Helper()
	noLeaks(t)
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	e, err := start(context.Background(), p, discard, k, pr.open)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close(false)
		if !k.closed {
			t.Error("Close left the kernel sockets open")
		}
	})
	return e
}

// TestSourcesUnionAndRemoval: the table is the union of the sources; a
// source removed by Apply takes its prefixes with it, from the table and
// from disk.
func TestSourcesUnionAndRemoval(t *testing.T) {
	k, dir := newFakeKernel(), t.TempDir()
	p := fakePlan(dir, static("a", "203.0.113.0/25"), static("b", "198.18.0.0/16", "2001:db8::/32", "198.51.100.128/25"))
	e := startFake(t, p, k, &fakeProber{})
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pfxs("198.18.0.0/16", "203.0.113.0/25"), k.prefixes(DefaultTable), netipOpt); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	wantRejected := []RejectCount{
		{Source: "b", Reason: breakout.ReasonProtected, Count: 2}, // the LAN, and IPv6 without an IPv6 gateway
	}
	if diff := cmp.Diff(wantRejected, e.Status().Compile.Rejected); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	x, ok := e.Explain(netip.MustParseAddr("198.18.3.4"))
	if !ok || x.Route != netip.MustParsePrefix("198.18.0.0/16") || len(x.Entries) != 1 || x.Entries[0].Source() != "b" {
		t.Errorf("Explain = %+v, %v", x, ok)
	}

	p.Sources = p.Sources[:1]
	if err := e.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pfxs("203.0.113.0/25"), k.prefixes(DefaultTable), netipOpt); diff != "" {
		t.Errorf("after removing b, table (-want +got):\n%s", diff)
	}
	if _, ok := e.Explain(netip.MustParseAddr("198.18.3.4")); ok {
		t.Error("Explain still finds the removed source's route")
	}
	e.Close(false)
	store, err := lkg.Open(dir+"/breakout", discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.Get("b"); ok {
		t.Error("the removed source's set is still on disk")
	}
}

// TestApplyMovesTable: a new table gets the routes, the old one is swept and
// the rule points at the new one.
func TestApplyMovesTable(t *testing.T) {
	k := newFakeKernel()
	p := fakePlan(t.TempDir(), static("a", "203.0.113.0/25"))
	e := startFake(t, p, k, &fakeProber{})
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Table, p.RulePriority = 7000, 7001
	if err := e.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if n := len(k.prefixes(DefaultTable)); n != 0 {
		t.Errorf("old table holds %d routes", n)
	}
	if n := len(k.prefixes(7000)); n != 1 {
		t.Errorf("new table holds %d routes, want 1", n)
	}
	want := []rule{{4, 7001, 7000}, {6, 7001, 7000}}
	if diff := cmp.Diff(want, k.ruleSet()); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

// TestHealthWithdrawsRule: the rule follows the probes; the routes stay.
func TestHealthWithdrawsRule(t *testing.T) {
	k, pr := newFakeKernel(), &fakeProber{}
	pr.alive.Store(true)
	p := fakePlan(t.TempDir(), static("a", "203.0.113.0/25"))
	p.Health = Health{Interval: 5 * time.Millisecond, Timeout: time.Millisecond, DownAfter: 3, UpAfter: 2}
	e := startFake(t, p, k, pr)
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
			if time.Since(start) > 2*time.Second {
				t.Fatalf("%s: timed out", what)
			}
		}
	}
	waitFor("rules in", func() bool { return len(k.ruleSet()) == 2 })
	pr.alive.Store(false)
	waitFor("rules out", func() bool { return len(k.ruleSet()) == 0 })
	if st := e.Status(); st.Withdrawn == "" || st.Gateway.Healthy || len(k.prefixes(DefaultTable)) != 1 {
		t.Errorf("down: withdrawn %q healthy %v routes %d", st.Withdrawn, st.Gateway.Healthy, len(k.prefixes(DefaultTable)))
	}
	// A reload while the gateway is down must not put the rule back.
	p.Health.DownAfter = 4
	if err := e.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if n := len(k.ruleSet()); n != 0 {
		t.Errorf("reload while down added %d rules", n)
	}
	pr.alive.Store(true)
	waitFor("rules back", func() bool { return len(k.ruleSet()) == 2 })
}

func TestHealthObserve(t *testing.T) {
	h := Health{DownAfter: 3, UpAfter: 2}
	miss, ok := "x", ""
	tests := []struct {
		name  string
		seq   []string
		flips []int // probe indices where Healthy flips
		want  bool
	}{
		{"one miss moves nothing", []string{miss, ok, miss, miss, ok}, nil, true},
		{"down after three", []string{miss, miss, miss, miss}, []int{2}, false},
		{"up after two", []string{miss, miss, miss, ok, miss, ok, ok}, []int{2, 6}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := healthState{Healthy: true}
			var flips []int
			for i, r := range tt.seq {
				var err error
				if r != "" {
					err = context.DeadlineExceeded
				}
				if s.observe(h, time.Millisecond, err, time.Now()) {
					flips = append(flips, i)
				}
			}
			if diff := cmp.Diff(tt.flips, flips); diff != "" || s.Healthy != tt.want {
				t.Errorf("flips (-want +got):\n%s healthy %v, want %v", diff, s.Healthy, tt.want)
			}
		})
	}
}

func TestFirstDelay(t *testing.T) {
	now := time.Now()
	aws := source.Config{Spec: feed.Spec{Kind: feed.KindAWS}, Every: 24 * time.Hour}
	tokyo := aws
	tokyo.Spec.Regions = []string{"ap-northeast-1"}
	tests := []struct {
		name string
		cfg  source.Config
		st   lkg.State
		ok   bool
		want time.Duration
	}{
		{"never fetched", aws, lkg.State{}, false, 0},
		{"fresh set waits", aws, lkg.State{LastSuccess: now.Add(-time.Hour), Spec: aws.Fingerprint()}, true, 23 * time.Hour},
		{"fresh set of other settings now", aws, lkg.State{LastSuccess: now.Add(-time.Hour), Spec: tokyo.Fingerprint()}, true, 0},
		{"fresh set of an older file now", aws, lkg.State{LastSuccess: now.Add(-time.Hour)}, true, 0},
		{"old set now", aws, lkg.State{LastSuccess: now.Add(-48 * time.Hour), Spec: aws.Fingerprint()}, true, 0},
		{"static always", source.Config{Spec: feed.Spec{Kind: feed.KindStatic}, Every: time.Hour}, lkg.State{LastSuccess: now}, true, 0},
		{"dns always", source.Config{Spec: feed.Spec{Kind: feed.KindDNS}, Every: time.Hour}, lkg.State{LastSuccess: now}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := firstDelay(tt.cfg, tt.st, tt.ok, now); got != tt.want {
				t.Errorf("firstDelay = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPlanValidate(t *testing.T) {
	good := fakePlan("/tmp/x", static("a", "203.0.113.0/25"))
	tests := []struct {
		name string
		edit func(*Plan)
		want string // substring of the error; "" for none
	}{
		{"good", func(*Plan) {}, ""},
		{"no gateway", func(p *Plan) { p.Gateway = netip.Addr{} }, "gateway not set"},
		{"main table", func(p *Plan) { p.Table = 254 }, "reserved"},
		{"twice", func(p *Plan) { p.Sources = append(p.Sources, p.Sources[0]) }, "defined twice"},
		{"no state dir", func(p *Plan) { p.StateDir = "" }, "state directory"},
		{"v4 as gateway6", func(p *Plan) { p.Gateway6 = netip.MustParseAddr("198.51.100.3") }, "not an IPv6"},
		{"timeout over interval", func(p *Plan) { p.Health.Timeout = 2 * time.Second }, "longer than interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.edit(&p)
			err := p.withDefaults().validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("validate = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestApplyEnablesHealth: probing turned on by a reload starts probing.
func TestApplyEnablesHealth(t *testing.T) {
	k, pr := newFakeKernel(), &fakeProber{}
	p := fakePlan(t.TempDir(), static("a", "203.0.113.0/25"))
	e := startFake(t, p, k, pr)
	if !e.Status().Gateway.Healthy || len(k.ruleSet()) != 2 {
		t.Fatalf("probing off: want healthy and the rules in")
	}
	p.Health = Health{Interval: 5 * time.Millisecond, Timeout: time.Millisecond}
	if err := e.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); len(k.ruleSet()) != 0; time.Sleep(time.Millisecond) {
		if time.Since(start) > 2*time.Second {
			t.Fatal("a dead gateway kept its rules after probing was turned on")
		}
	}
	if g := e.Status().Gateway; !g.Probing || g.Healthy {
		t.Errorf("gateway status %+v, want probing and down", g)
	}
}

// TestMarkerUnwritableDoesNotLoop: a state directory where the marker
// cannot be written (full, read-only) is reported in Status, and the set
// is not compiled and synced again and again for it.
func TestMarkerUnwritableDoesNotLoop(t *testing.T) {
	k, dir := newFakeKernel(), t.TempDir()
	// A directory where the marker's temporary file goes: every write fails.
	if err := os.MkdirAll(filepath.Join(dir, "breakout", markerFile+".new", "x"), 0o750); err != nil {
		t.Fatal(err)
	}
	e := startFake(t, fakePlan(dir, static("a", "203.0.113.0/25")), k, &fakeProber{})
	if err := e.RefreshNow(context.Background()); err != nil {
		t.Fatalf("refresh reported %v; the routes are in, only the marker is not", err)
	}
	first := e.Status().Compile
	if first.MarkerError == "" || first.Installed != 1 {
		t.Fatalf("status %+v: want the route installed and the marker error shown", first)
	}
	time.Sleep(2500 * time.Millisecond) // past the installer's first retries (1 s, 2 s)
	if c := e.Status().Compile; !c.LastCompile.Equal(first.LastCompile) {
		t.Errorf("compiled again at %v after %v: the marker failure is being retried as a failed install", c.LastCompile, first.LastCompile)
	}
	if diff := cmp.Diff(pfxs("203.0.113.0/25"), k.prefixes(DefaultTable), netipOpt); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}
