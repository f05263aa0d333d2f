package daemon

import (
	"net/netip"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/engine"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/fetch"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
	"github.com/uplinkd/uplinkd/internal/config"
)

// BreakoutPlan maps a site's [breakout] onto the engine's plan.
func BreakoutPlan(c *config.Config) engine.Plan {
	b := c.Breakout
	p := engine.Plan{
		Gateway: b.Gateway, Gateway6: b.Gateway6, Interface: b.Interface,
		Table: uint32(b.Table), RulePriority: b.RulePriority, StateDir: c.StateDir, Force: b.Force,
		Guards: breakout.Guards{Protected: protected(c), MinBits4: b.MinBits4, MinBits6: b.MinBits6,
			MaxCount: b.MaxPrefixes, MaxChurn: float64(b.MaxChurn) / 100, MaxGrowth: float64(b.MaxGrowth) / 100,
			MaxCoverage: float64(b.MaxCoverage) / 100, MaxTotalCoverage: float64(b.MaxTotalCoverage) / 100},
		Endpoints: endpoints(c), Limits: feed.Limits{MaxBytes: b.MaxFeedBytes, MaxEntries: b.MaxEntries}, ReadBack: b.ReadBack,
		// A probe must time out before the next one is due.
		Health: engine.Health{Disabled: !b.Probe, Interval: b.ProbeEvery, Timeout: min(500*time.Millisecond, b.ProbeEvery*3/4),
			DownAfter: b.DownAfter, UpAfter: b.UpAfter},
		Fetcher: &fetch.Fetcher{Timeout: b.FetchTimeout, MaxBytes: b.MaxFeedBytes, Retries: 2,
			Backoff: time.Second, MaxBackoff: 10 * time.Second, UserAgent: "uplinkd"},
	}
	for _, s := range b.Sources {
		p.Sources = append(p.Sources, sourceConfig(s))
	}
	return p
}

func sourceConfig(s config.BreakoutSource) source.Config {
	return source.Config{
		Spec: feed.Spec{Name: s.Name, Kind: feed.Kind(s.Type), Services: s.Services, Regions: s.Regions,
			NetworkBorderGroups: s.NetworkBorderGroups, Keys: s.Keys, Categories: s.Categories,
			ServiceAreas: s.ServiceAreas, ASNs: s.ASNs, Prefixes: s.Prefixes,
			Meta: breakout.NewEntry(netip.Prefix{}, s.Header.ASN, breakout.Attrs{ASNName: s.Header.ASNName, Category: s.Header.Category, Name: s.Header.Name})},
		URLs: s.URLs, Files: s.Files, Every: s.Refresh, Names: s.Names, Resolver: s.Resolver,
		AllowHTTP: s.AllowHTTP, MaxCoverage: float64(s.MaxCoverage) / 100,
	}
}

// protected lists what no breakout prefix may cover: if one did, the
// tunnels' own packets, the carriers' gateways or the LAN would be sent to
// the 5G router.
func protected(c *config.Config) []breakout.Protected {
	var out []breakout.Protected
	host := func(a netip.Addr, label string) {
		if a.IsValid() {
			out = append(out, breakout.Protected{Prefix: netip.PrefixFrom(a, a.BitLen()), Label: label})
		}
	}
	host(c.Breakout.Gateway, "breakout gateway")
	host(c.Breakout.Gateway6, "breakout gateway")
	for _, u := range c.Uplinks {
		host(u.Gateway, u.Name+" gateway")
	}
	for _, t := range c.EdgeTunnels {
		for _, p := range t.Addresses {
			out = append(out, breakout.Protected{Prefix: p.Masked(), Label: t.Name + " tunnel"})
		}
	}
	for _, p := range c.BGP.Originate {
		out = append(out, breakout.Protected{Prefix: p, Label: "LAN"})
	}
	return out
}

// endpoints lists the hub endpoints (host:port, names allowed) whose
// addresses no breakout prefix may cover: the engine resolves them, again
// on every read-back, and warns in status of one that does not resolve.
func endpoints(c *config.Config) []breakout.Endpoint {
	var out []breakout.Endpoint
	for _, t := range c.EdgeTunnels {
		if t.Endpoint != "" {
			out = append(out, breakout.Endpoint{HostPort: t.Endpoint, Label: t.Name + " hub endpoint"})
		}
	}
	return out
}
