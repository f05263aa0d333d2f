package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
	"github.com/uplinkd/uplinkd/internal/config"
)

func TestSourceConfigDNS(t *testing.T) {
	got := sourceConfig(config.BreakoutSource{Name: "media", Type: "dns", Names: []string{"media.example.net"},
		Resolver: "198.18.0.53:53", Refresh: time.Hour})
	want := source.Config{Spec: feed.Spec{Name: "media", Kind: feed.KindDNS}, Names: []string{"media.example.net"},
		Resolver: "198.18.0.53:53", Every: time.Hour}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("sourceConfig (-want +got):\n%s", diff)
	}
}

// TestBreakoutPlanGuards: the config's limits reach the engine as
// fractions, the feed limits as bytes and entries, a source's opt-ins as
// written, and every tunnel's hub endpoint as an endpoint to protect (the
// engine resolves names and warns of those that do not resolve).
func TestBreakoutPlanGuards(t *testing.T) {
	c := &config.Config{StateDir: "/var/lib/uplinkd", Breakout: config.Breakout{
		Gateway: netip.MustParseAddr("198.18.5.1"), MaxChurn: 50, MaxGrowth: 100, MaxCoverage: 10, MaxTotalCoverage: 20,
		MaxEntries: 2_000_000, MaxFeedBytes: 32 << 20, ReadBack: 30 * time.Second,
		Sources: []config.BreakoutSource{{Name: "lab", Type: "url", URLs: []string{"http://198.18.0.80/x"}, AllowHTTP: true, MaxCoverage: 70}},
	}, EdgeTunnels: []config.EdgeTunnel{
		{Name: "docomo", Endpoint: "hub.example.net:51820"}, {Name: "softbank", Endpoint: "203.0.113.1:51821"},
	}}
	p := BreakoutPlan(c)
	g := p.Guards
	if g.MaxChurn != 0.5 || g.MaxGrowth != 1 || g.MaxCoverage != 0.1 || g.MaxTotalCoverage != 0.2 {
		t.Errorf("guards %+v", g)
	}
	if p.Limits != (feed.Limits{MaxBytes: 32 << 20, MaxEntries: 2_000_000}) || p.ReadBack != 30*time.Second {
		t.Errorf("limits %+v, read-back %s", p.Limits, p.ReadBack)
	}
	if s := p.Sources[0]; !s.AllowHTTP || s.MaxCoverage != 0.7 {
		t.Errorf("source %+v", s)
	}
	want := []breakout.Endpoint{{HostPort: "hub.example.net:51820", Label: "docomo hub endpoint"}, {HostPort: "203.0.113.1:51821", Label: "softbank hub endpoint"}}
	if diff := cmp.Diff(want, p.Endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
}
