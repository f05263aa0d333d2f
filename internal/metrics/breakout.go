package metrics

import (
	"github.com/uplinkd/uplinkd/internal/breakout/engine"
)

// breakout emits per-source freshness and held updates, the compiled and
// installed sets, the gateway's health and the read-back's repairs.
func (e emitter) breakout(st *engine.Status) {
	for _, s := range st.Sources {
		e.gauge(descSourcePrefixes, float64(s.Prefixes), s.Name)
		e.timestamp(descSourceLastSuccess, s.LastSuccess, s.Name)
		e.flag(descSourceStale, s.Stale, s.Name)
		e.flag(descSourceHeld, s.Held, s.Name)
	}
	e.compile(st.Compile)
	e.gateway(st.Gateway)
	e.counter(descRepairs, float64(st.ReadBack.RuleRepairs), "breakout_rule")
	e.counter(descRepairs, float64(st.ReadBack.RouteRepairs), "breakout_routes")
}

func (e emitter) compile(cs engine.CompileStatus) {
	e.gauge(descRoutesInstalled, float64(cs.Installed))
	e.gauge(descRoutesDesired, float64(cs.Desired))
	for _, r := range cs.Rejected {
		e.gauge(descRejected, float64(r.Count), r.Source, string(r.Reason))
	}
	e.flag(descActive, cs.RulePresent)
	e.flag(descChurnBlocked, cs.ChurnBlocked)
	if !cs.LastInstall.IsZero() {
		e.gauge(descInstall, cs.InstallTook.Seconds())
	}
	if !cs.LastCompile.IsZero() {
		e.gauge(descCompile, cs.CompileTook.Seconds())
	}
	e.flag(descReconcileError, cs.LastError != "", "breakout")
	e.flag(descReconcileError, cs.RuleError != "", "breakout_rule")
}

func (e emitter) gateway(g engine.GatewayStatus) {
	if !g.Probing {
		return
	}
	e.flag(descGatewayUp, g.Healthy)
	if g.LastRTT > 0 {
		e.gauge(descGatewayRTT, g.LastRTT.Seconds())
	}
}
