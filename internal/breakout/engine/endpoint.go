package engine

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// resolveTimeout bounds one resolution of every endpoint: it runs at
// Start, on Apply and on every read-back.
const resolveTimeout = 5 * time.Second

// endpointState is Plan.Endpoints as last resolved.
type endpointState struct {
	guard     breakout.EndpointGuard // used by one resolution at a time (resolveMu)
	protected []breakout.Protected
	warnings  []string
}

// resolveEndpoints resolves the Plan's endpoints and, when their addresses
// changed, asks for a reconcile with the new protections. An endpoint that
// does not resolve is a warning in Status and a log line when it appears.
func (e *Engine) resolveEndpoints(ctx context.Context) {
	e.mu.Lock()
	eps, lookup := e.plan.Endpoints, e.plan.Lookup
	e.mu.Unlock()
	if lookup == nil {
		lookup = systemLookup
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	e.resolveMu.Lock()
	defer e.resolveMu.Unlock()
	prot, warn := e.endpoints.guard.Resolve(ctx, lookup, eps)
	e.mu.Lock()
	oldProt, oldWarn := e.endpoints.protected, e.endpoints.warnings
	e.endpoints.protected, e.endpoints.warnings = prot, warn
	e.mu.Unlock()
	for _, w := range warn {
		if !slices.Contains(oldWarn, w) {
			e.log.Warn("breakout hub endpoint unresolved", "warning", w)
		}
	}
	if len(oldWarn) > 0 && len(warn) == 0 {
		e.log.Info("breakout hub endpoints all resolve and are protected", "endpoints", len(eps))
	}
	if !slices.Equal(oldProt, prot) {
		e.changed()
	}
}

func systemLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// guards are guardsFor(p) with the endpoints' addresses protected.
// Called with e.mu held.
func (e *Engine) guards(p Plan) breakout.Guards {
	g := guardsFor(p)
	g.Protected = append(slices.Clip(g.Protected), e.endpoints.protected...)
	return g
}
