package metrics

import "github.com/uplinkd/uplinkd/internal/sla"

// Each probed tunnel's quality over the SLA window and its verdict.
var (
	descSLARTT      = desc("sla_rtt_seconds", "Mean round trip of the tunnel's answered SLA probes over the window.", "link")
	descSLAJitter   = desc("sla_jitter_seconds", "Mean difference of consecutive round trips of the tunnel's SLA probes over the window.", "link")
	descSLALoss     = desc("sla_loss_ratio", "Share of the tunnel's SLA probes unanswered over the window (0 to 1).", "link")
	descSLARate     = desc("sla_rate_bytes_per_second", "What the tunnel carried in the latest probe interval, the busier direction, in bytes a second.", "link")
	descSLAGoodput  = desc("sla_goodput_bytes_per_second", "Bytes a second the tunnel carried while it was full (its probes queued behind its traffic or lost), the median over the window; absent when it was not full.", "link")
	descSLADegraded = desc("sla_degraded", "1 while the tunnel breaks its SLA (out of ECMP or lowered, as [sla] action says), 0 while it meets it.", "link")
	descSLAJudging  = desc("sla_judging", "1 while the tunnel is up and judged, 0 while it is down (nothing judged).", "link")
)

// slas emits each probed tunnel's figures.
func (e emitter) slas(ls []sla.LinkStatus) {
	for _, l := range ls {
		e.gauge(descSLARTT, l.RTTMs/1000, l.Link)
		e.gauge(descSLAJitter, l.JitterMs/1000, l.Link)
		e.gauge(descSLALoss, l.LossPercent/100, l.Link)
		e.gauge(descSLARate, l.RateKbps*1000/8, l.Link)
		if l.LoadedSamples > 0 {
			e.gauge(descSLAGoodput, l.GoodputKbps*1000/8, l.Link)
		}
		e.flag(descSLADegraded, l.Degraded, l.Link)
		e.flag(descSLAJudging, l.Judging, l.Link)
	}
}
