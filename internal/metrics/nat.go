package metrics

import "github.com/uplinkd/uplinkd/internal/nat"

// nat emits the NAT table and forwarding read-back.
func (e emitter) nat(n *nat.Status) {
	e.counter(descRepairs, float64(n.Repairs), "nat")
	e.gauge(descNATRules, float64(n.Rules))
	e.flag(descForwarding, n.Forwarding)
	e.timestamp(descReadBack, n.CheckedAt, "nat")
	e.flag(descReconcileError, n.Error != "", "nat")
}
