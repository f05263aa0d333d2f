package breakout

import (
	"errors"
	"fmt"
	"net/netip"

	"go4.org/netipx"
)

// Protected is an address or prefix breakout must never take over: a hub
// endpoint, an uplink gateway, the breakout gateway itself, a LAN prefix, a
// tunnel address. Label says which, for the rejection message.
type Protected struct {
	Prefix netip.Prefix // an address is a /32 or /128
	Label  string       // e.g. "hub endpoint", "lan"
}

// Guards are the limits every compiled set must respect: per entry
// (Protected, MinBits4, MinBits6), on the whole set (MaxCount), and on how
// far one update of a source may move its own set and the whole (see
// CheckUpdate). Shares are fractions: 0.5 is 50 %; 0 means no limit.
type Guards struct {
	Protected []Protected
	MinBits4  int     // shortest IPv4 prefix accepted, e.g. 8; 0: no limit
	MinBits6  int     // shortest IPv6 prefix accepted, e.g. 16; 0: no limit
	MaxCount  int     // most prefixes after aggregation; 0: no limit
	MaxChurn  float64 // largest share of the previous set one update may remove
	MaxGrowth float64 // largest share of the previous set one update may add (1: double)
	// MinChurn is a change small enough to pass MaxChurn and MaxGrowth
	// whatever the share: a source of 3 prefixes may swap one.
	MinChurn int
	// MaxCoverage is the largest share of the IPv4 address space, or of
	// IPv6's 2000::/3, one source's set may cover; MaxTotalCoverage that
	// of the whole set. Every unicast /8 is 87 % of IPv4; all of AWS, 2.2 %.
	MaxCoverage      float64
	MaxTotalCoverage float64
}

// Reason is why the guards turned an entry away.
type Reason string

// Rejection reasons.
const (
	ReasonDefault   Reason = "default route"
	ReasonProtected Reason = "overlaps protected"
	ReasonTooShort  Reason = "shorter than minimum length"
	ReasonInvalid   Reason = "invalid prefix"
)

// Rejection is one entry the guards refused, with the reason and, for a
// protected overlap, what it would have taken over.
type Rejection struct {
	Entry  Entry
	Reason Reason
	Detail string // e.g. "hub endpoint 203.0.113.1/32"
}

func (r Rejection) String() string {
	s := fmt.Sprintf("%s: %s %s", r.Entry.Source(), r.Entry.Prefix(), r.Reason)
	if r.Detail != "" {
		s += " " + r.Detail
	}
	return s
}

// guard checks single entries. Protected prefixes are also held in an IPSet
// so that the common case (no overlap) is one lookup, not a scan.
type guard struct {
	g    Guards
	prot *netipx.IPSet
}

func newGuard(g Guards) guard {
	var b netipx.IPSetBuilder
	for _, p := range g.Protected {
		b.AddPrefix(p.Prefix.Masked())
	}
	s, _ := b.IPSet()
	return guard{g: g, prot: s}
}

// check returns the rejection for e, or ok when e passes. An entry that
// overlaps a protected prefix in either direction is refused: one that
// contains it would steal the address, and one inside it (a more specific
// route into the LAN) would win longest-prefix match over the real route.
func (g guard) check(e Entry) (Rejection, bool) {
	p := e.Prefix()
	switch {
	case !p.IsValid() || p != p.Masked():
		return Rejection{Entry: e, Reason: ReasonInvalid}, false
	case p.Bits() == 0:
		return Rejection{Entry: e, Reason: ReasonDefault}, false
	case p.Addr().Is4() && p.Bits() < g.g.MinBits4:
		return Rejection{Entry: e, Reason: ReasonTooShort, Detail: fmt.Sprintf("/%d", g.g.MinBits4)}, false
	case p.Addr().Is6() && p.Bits() < g.g.MinBits6:
		return Rejection{Entry: e, Reason: ReasonTooShort, Detail: fmt.Sprintf("/%d", g.g.MinBits6)}, false
	case g.prot.OverlapsPrefix(p):
		return Rejection{Entry: e, Reason: ReasonProtected, Detail: g.protectedLabel(p)}, false
	}
	return Rejection{}, true
}

func (g guard) protectedLabel(p netip.Prefix) string {
	for _, q := range g.g.Protected {
		if q.Prefix.Masked().Overlaps(p) {
			return q.Label + " " + q.Prefix.String()
		}
	}
	return ""
}

// Validate checks the limits themselves, for the config loader.
func (g Guards) Validate() error {
	var errs []error
	if g.MinBits4 < 0 || g.MinBits4 > 32 {
		errs = append(errs, fmt.Errorf("minimum IPv4 prefix length %d not in 0..32", g.MinBits4))
	}
	if g.MinBits6 < 0 || g.MinBits6 > 128 {
		errs = append(errs, fmt.Errorf("minimum IPv6 prefix length %d not in 0..128", g.MinBits6))
	}
	if g.MaxCount < 0 {
		errs = append(errs, fmt.Errorf("maximum count %d is negative", g.MaxCount))
	}
	if g.MaxChurn < 0 || g.MaxChurn > 1 {
		errs = append(errs, fmt.Errorf("maximum churn %g not in 0..1", g.MaxChurn))
	}
	if g.MaxGrowth < 0 || g.MinChurn < 0 {
		errs = append(errs, fmt.Errorf("maximum growth %g or minimum churn %d is negative", g.MaxGrowth, g.MinChurn))
	}
	if g.MaxCoverage < 0 || g.MaxCoverage > 1 || g.MaxTotalCoverage < 0 || g.MaxTotalCoverage > 1 {
		errs = append(errs, fmt.Errorf("maximum coverage %g or total coverage %g not in 0..1", g.MaxCoverage, g.MaxTotalCoverage))
	}
	for _, p := range g.Protected {
		if !p.Prefix.IsValid() {
			errs = append(errs, fmt.Errorf("protected %s: invalid prefix", p.Label))
		}
	}
	return errors.Join(errs...)
}
