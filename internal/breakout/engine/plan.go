package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/fetch"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
)

// Defaults for zero fields of a Plan.
const (
	DefaultTable        = 6100
	DefaultRulePriority = 6100
	DefaultEvery        = 24 * time.Hour
	DefaultInterval     = time.Second
	DefaultTimeout      = 500 * time.Millisecond
	DefaultDownAfter    = 3
	DefaultUpAfter      = 2
	// DefaultReadBack is how often the rule and the table are read back
	// and repaired: a firewall reload or a hand that deletes the rule is
	// undone within this.
	DefaultReadBack = 30 * time.Second
	// DefaultMinChurn is the change small enough to pass the churn and
	// growth limits whatever its share (Guards.MinChurn).
	DefaultMinChurn = 16
)

// Plan is everything the engine needs to know; Apply replaces it whole.
type Plan struct {
	Sources []source.Config // each with its own refresh interval (Every; 0: daily)
	// Guards: Protected is filled in by the caller (uplink gateways, the
	// breakout gateway, LAN prefixes, tunnel addresses). The churn, growth
	// and coverage limits judge each source's update before it replaces
	// the source's last good set (breakout.CheckUpdate); MaxChurn is also
	// the backstop of the whole install (breakout.ChurnError).
	Guards breakout.Guards
	// Endpoints are the hub endpoints (host:port, names allowed): the
	// engine resolves them at start, on Apply and on every read-back,
	// protects their addresses, and warns in Status of any that does not
	// resolve.
	Endpoints []breakout.Endpoint
	// Lookup resolves endpoint names; nil: the system resolver.
	Lookup breakout.LookupFunc
	// Limits bound what one feed may cost while it is read (unpacked
	// size, entries) and which state files are loaded; zero fields take
	// package feed's defaults.
	Limits  feed.Limits
	Gateway netip.Addr // the breakout next hop (the home 5G router)
	// Gateway6 is the next hop of IPv6 prefixes when Gateway is IPv4 (the
	// same router's IPv6 address; only Gateway is probed). Left invalid
	// with an IPv4 Gateway, IPv6 prefixes are rejected (counted under
	// "no IPv6 gateway"): the kernel cannot route IPv6 via IPv4.
	Gateway6  netip.Addr
	Interface string // optional: the gateway's device; "" lets the kernel resolve it
	// Table holds the breakout routes (0: DefaultTable); a policy rule at
	// RulePriority (0: DefaultRulePriority), before main, looks it up.
	Table        uint32
	RulePriority int
	StateDir     string // the last-known-good store lives in StateDir/breakout
	// Force takes, once, what the guards hold back: at Start, each
	// source's first update and the first install; on Apply, every update
	// held at that moment and the next install. Later updates are guarded
	// again, force or not.
	Force  bool
	Health Health
	// ReadBack is how often the rule and the table are read back from the
	// kernel and repaired (0: DefaultReadBack).
	ReadBack time.Duration
	// Fetcher downloads the feeds; nil: timeouts and caps of package
	// fetch with two retries.
	Fetcher *fetch.Fetcher
	// OnState, when set, hears the installed set after every install and
	// whether breakout is active (the gateway answers), after every flip:
	// the BGP announcer follows it. It is called on the engine's own
	// goroutines and must not block.
	OnState func(installed []netip.Prefix, active bool)
}

// Health configures the gateway probe. Zero fields take the defaults.
type Health struct {
	Disabled  bool          // never probe: breakout always installed
	Interval  time.Duration // between probes; DefaultInterval
	Timeout   time.Duration // for one echo reply; DefaultTimeout
	DownAfter int           // consecutive misses that withdraw breakout; DefaultDownAfter
	UpAfter   int           // consecutive answers that restore it; DefaultUpAfter
}

// withDefaults returns p with every zero field that has a default filled.
func (p Plan) withDefaults() Plan {
	p.Table = or(p.Table, DefaultTable)
	p.RulePriority = or(p.RulePriority, DefaultRulePriority)
	p.Health.Interval = or(p.Health.Interval, DefaultInterval)
	p.Health.Timeout = or(p.Health.Timeout, DefaultTimeout)
	p.Health.DownAfter = or(p.Health.DownAfter, DefaultDownAfter)
	p.Health.UpAfter = or(p.Health.UpAfter, DefaultUpAfter)
	p.ReadBack = or(p.ReadBack, DefaultReadBack)
	p.Guards.MinChurn = or(p.Guards.MinChurn, DefaultMinChurn)
	if p.Fetcher == nil {
		p.Fetcher = &fetch.Fetcher{Retries: 2, MaxBytes: p.Limits.MaxBytes}
	}
	p.Sources = slices.Clone(p.Sources)
	for i := range p.Sources {
		p.Sources[i].Every = or(p.Sources[i].Every, DefaultEvery)
	}
	return p
}

// validate refuses a plan the engine cannot run, before anything is touched.
func (p Plan) validate() error {
	var errs []error
	if !p.Gateway.IsValid() {
		errs = append(errs, errors.New("breakout gateway not set"))
	}
	if p.Gateway6.IsValid() && !p.Gateway6.Is6() {
		errs = append(errs, fmt.Errorf("ipv6 gateway %s is not an IPv6 address", p.Gateway6))
	}
	for _, gw := range []netip.Addr{p.Gateway, p.Gateway6} {
		if gw.IsLinkLocalUnicast() && p.Interface == "" {
			errs = append(errs, fmt.Errorf("link-local gateway %s needs an interface", gw))
		}
	}
	if p.StateDir == "" {
		errs = append(errs, errors.New("state directory not set"))
	}
	if reservedTable(p.Table) {
		errs = append(errs, fmt.Errorf("table %d is reserved by the kernel", p.Table))
	}
	if p.RulePriority <= 0 || p.RulePriority >= 32766 {
		errs = append(errs, fmt.Errorf("rule priority %d not in 1..32765 (before main)", p.RulePriority))
	}
	if p.ReadBack < 0 {
		errs = append(errs, fmt.Errorf("negative read-back interval %s", p.ReadBack))
	}
	if p.Health.Timeout > p.Health.Interval {
		errs = append(errs, fmt.Errorf("health timeout %s longer than interval %s", p.Health.Timeout, p.Health.Interval))
	}
	errs = append(errs, p.Guards.Validate(), validateSources(p.Sources))
	return errors.Join(errs...)
}

// reservedTable: unspec, default, main and local belong to the kernel.
func reservedTable(t uint32) bool { return t == 0 || (t >= 253 && t <= 255) }

func validateSources(srcs []source.Config) error {
	var errs []error
	seen := map[string]bool{}
	for i, s := range srcs {
		switch {
		case s.Spec.Name == "":
			errs = append(errs, fmt.Errorf("source %d: no name", i+1))
		case seen[s.Spec.Name]:
			errs = append(errs, fmt.Errorf("source %s: defined twice", s.Spec.Name))
		case s.Every < 0:
			errs = append(errs, fmt.Errorf("source %s: negative refresh interval", s.Spec.Name))
		}
		seen[s.Spec.Name] = true
	}
	return errors.Join(errs...)
}

// layout is where the engine's kernel objects live.
type layout struct {
	Table    uint32 `json:"table"`
	Priority int    `json:"priority"`
}

func (p Plan) layout() layout { return layout{Table: p.Table, Priority: p.RulePriority} }

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
