package engine

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// TestReadBackRepairs: a rule deleted or a route deleted behind the
// engine's back comes back within one read-back period, and both repairs
// are counted in status.
func TestReadBackRepairs(t *testing.T) {
	k := newFakeKernel()
	p := fakePlan(t.TempDir(), static("a", "203.0.113.0/25", "198.18.0.0/16"))
	p.ReadBack = 50 * time.Millisecond
	e := startFake(t, p, k, &fakeProber{})
	waitTable(t, k, "installed", pfxs("198.18.0.0/16", "203.0.113.0/25"))

	k.DelRule(rule{4, DefaultRulePriority, DefaultTable})
	took := waitFor(t, "the rule restored", func() bool { return len(k.ruleSet()) == 2 })
	// The count follows the repair it counts: wait for it too (under a
	// slow machine, such as the test VM's TCG, the gap shows).
	waitFor(t, "the repair counted", func() bool { return e.Status().ReadBack.RuleRepairs > 0 })
	rb := e.Status().ReadBack
	if rb.RuleRepairs != 1 || !strings.Contains(rb.LastRepairWhat, "ipv4 rule pref 6100 lookup 6100 was missing") {
		t.Errorf("read-back status %+v; want one rule repair", rb)
	}
	t.Logf("deleted rule restored after %s (read-back every %s)", took, p.ReadBack)

	rs, _ := k.Dump(DefaultTable, proto)
	k.DeleteRoutes(DefaultTable, proto, rs[:1])
	k.Sync(DefaultTable, proto, append(rs[1:], fib.Route{Prefix: netip.MustParsePrefix("100.64.0.0/24"), Nexthop: rs[0].Nexthop}))
	waitTable(t, k, "the route restored, the stranger gone", pfxs("198.18.0.0/16", "203.0.113.0/25"))
	waitFor(t, "two routes counted", func() bool { return e.Status().ReadBack.RouteRepairs == 2 })
	if rb := e.Status().ReadBack; rb.RuleRepairs != 1 || rb.Last.IsZero() || rb.IntervalSeconds != 0.05 {
		t.Errorf("read-back status %+v", rb)
	}
}

// TestReadBackLeavesWithdrawnRuleOut: while the gateway is down the rule
// must stay out; a rule put back by hand is taken out again.
func TestReadBackLeavesWithdrawnRuleOut(t *testing.T) {
	k, pr := newFakeKernel(), &fakeProber{}
	p := fakePlan(t.TempDir(), static("a", "203.0.113.0/25"))
	p.ReadBack = 50 * time.Millisecond
	p.Health = Health{Interval: 5 * time.Millisecond, Timeout: time.Millisecond}
	e := startFake(t, p, k, pr)
	waitFor(t, "withdrawn", func() bool { return len(k.ruleSet()) == 0 && e.Status().Withdrawn != "" })
	// The install ends by syncing the rule too: let it finish, or on a
	// loaded machine it takes the stray rule out before a read-back sees it
	// (right, but not the repair this test counts).
	waitTable(t, k, "installed", pfxs("203.0.113.0/25"))
	e.installMu.Lock()
	e.installMu.Unlock()
	k.AddRule(rule{6, DefaultRulePriority, DefaultTable})
	waitFor(t, "the stray rule removed", func() bool { return len(k.ruleSet()) == 0 })
	waitFor(t, "the repair counted", func() bool { return e.Status().ReadBack.RuleRepairs > 0 })
	if n := e.Status().ReadBack.RuleRepairs; n != 1 {
		t.Errorf("%d rule repairs, want 1", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// syncBuffer is a log sink safe for the engine's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUnresolvedEndpointWarns: a hub endpoint whose name does not resolve
// is a warning in status and a log line, not a silent gap; once it
// resolves its address is protected (the prefix covering it leaves the
// table) and the warning goes. An endpoint written as an address needs no
// lookup.
func TestUnresolvedEndpointWarns(t *testing.T) {
	var mu sync.Mutex
	names := map[string]string{}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		if a, ok := names[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, &net404{host}
	}
	k := newFakeKernel()
	p := fakePlan(t.TempDir(), static("a", "198.18.0.0/16", "203.0.113.0/24", "100.64.0.0/24"))
	p.ReadBack = 50 * time.Millisecond
	p.Lookup = lookup
	p.Endpoints = []breakout.Endpoint{{HostPort: "hub.example.net:51820", Label: "docomo hub endpoint"}, {HostPort: "203.0.113.77:51821", Label: "softbank hub endpoint"}}
	var logs syncBuffer
	noLeaks(t)
	e, err := start(context.Background(), p.withDefaults(), slog.New(slog.NewTextHandler(&logs, nil)), k, (&fakeProber{}).open)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(false) })
	waitTable(t, k, "installed, the literal endpoint protected", pfxs("100.64.0.0/24", "198.18.0.0/16"))
	want := "docomo hub endpoint hub.example.net:51820: does not resolve (lookup hub.example.net: no such host): its address is not protected from breakout routes"
	if w := e.Status().Warnings; len(w) != 1 || w[0] != want {
		t.Errorf("warnings %q, want %q", w, want)
	}
	if !strings.Contains(logs.String(), "breakout hub endpoint unresolved") || !strings.Contains(logs.String(), "hub.example.net:51820") {
		t.Errorf("no log line for the unresolved endpoint:\n%s", logs.String())
	}
	mu.Lock()
	names["hub.example.net"] = "198.18.5.5"
	mu.Unlock()
	waitTable(t, k, "the prefix over the resolved endpoint gone", pfxs("100.64.0.0/24"))
	if w := e.Status().Warnings; len(w) != 0 {
		t.Errorf("warnings %q once the name resolves", w)
	}
}

type net404 struct{ host string }

func (e *net404) Error() string { return "lookup " + e.host + ": no such host" }
