package engine

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// Explanation says why an address leaves through breakout.
type Explanation struct {
	Addr    netip.Addr
	Route   netip.Prefix // the installed prefix that covers Addr
	Table   uint32
	Gateway netip.Addr
	// Entries are the source entries that put Route there, least specific
	// first; their String reads "aws EC2 ap-northeast-1 3.112.0.0/14".
	Entries []breakout.Entry
	// Withdrawn is set while the gateway is down: the route stays in the
	// table but the rule that reaches it is gone.
	Withdrawn string
}

// String renders the explanation for `uplinkd explain IP`.
func (x Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: breakout route %s via %s (table %d)", x.Addr, x.Route, x.Gateway, x.Table)
	if x.Withdrawn != "" {
		fmt.Fprintf(&b, ", %s", x.Withdrawn)
	}
	for _, e := range x.Entries {
		fmt.Fprintf(&b, "\n  %s", e)
	}
	return b.String()
}

// Explain reports which installed prefix covers a and which source entries
// put it there; ok is false when a does not leave through breakout.
func (e *Engine) Explain(a netip.Addr) (Explanation, bool) {
	e.mu.Lock()
	res, p, hs := e.res, e.plan, e.hs
	e.mu.Unlock()
	if res == nil {
		return Explanation{}, false
	}
	a = a.Unmap()
	route, entries, ok := res.Explain(a)
	if !ok {
		return Explanation{}, false
	}
	x := Explanation{Addr: a, Route: route, Table: p.Table, Gateway: p.Gateway, Entries: entries}
	if a.Is6() {
		x.Gateway = p.nexthop6()
	}
	if !p.Health.Disabled && !hs.Healthy {
		x.Withdrawn = "withdrawn: gateway down"
	}
	return x, true
}
