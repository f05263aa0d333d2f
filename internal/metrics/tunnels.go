package metrics

import (
	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/config"
)

// tunnels emits one set of metrics per WireGuard tunnel.
func (e emitter) tunnels(st api.Status) {
	anyErr := false
	for _, t := range st.Tunnels {
		up := !t.LastHandshake.IsZero() && e.now.Sub(t.LastHandshake) <= config.WireGuardRejectAfter
		e.flag(descTunnelUp, up, t.Uplink, t.Name, t.Impl)
		if !t.LastHandshake.IsZero() {
			e.gauge(descTunnelHandshake, e.now.Sub(t.LastHandshake).Seconds(), t.Uplink, t.Name)
		}
		e.counter(descTunnelRx, float64(t.RxBytes), t.Uplink, t.Name)
		e.counter(descTunnelTx, float64(t.TxBytes), t.Uplink, t.Name)
		e.flag(descTunnelError, t.Error != "", t.Uplink, t.Name)
		anyErr = anyErr || t.Error != ""
	}
	e.flag(descReconcileError, anyErr, "wg")
}
