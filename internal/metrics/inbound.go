package metrics

import "github.com/uplinkd/uplinkd/internal/api"

// inbound emits the published services' connections and the firewall's
// drops and repairs.
func (e emitter) inbound(in *api.Inbound) {
	for _, p := range in.Published {
		e.counter(descPublishedConns, float64(p.Connections), p.Name)
	}
	e.counter(descInboundDropped, float64(in.DroppedPackets))
	e.counter(descInboundRepairs, float64(in.Repairs))
}
