package config

import "time"

// minSLAProbes is how many probes a window must hold to be judged (the
// sla package's minimum).
const minSLAProbes = 5

// validateSLA checks [sla]: off unless a limit is set; a probe a second,
// judged over 10 s, out after a 5 s breach, back after 30 s of meeting it.
func validateSLA(v *validator, raw *rawFile, c *Config) {
	if !v.has("sla") {
		return // no [sla]: nothing probed, nothing judged
	}
	r := raw.SLA
	s := &c.SLA
	s.ProbeInterval = v.millis("sla.probe_interval_ms", r.ProbeIntervalMS, 1000, 50, 60000, "one ICMP echo per tunnel this often")
	s.Window = v.millis("sla.window_ms", r.WindowMS, 10000, 100, 600000, "the RTT, jitter and loss are computed over this much")
	s.Breach = v.millis("sla.breach_ms", r.BreachMS, 5000, 0, 600000, "how long a breach must last before the tunnel leaves")
	s.Recover = v.millis("sla.recover_ms", r.RecoverMS, 30000, 0, 3600000, "how long it must meet every limit before it returns")
	s.MaxRTT = v.millis("sla.max_rtt_ms", r.MaxRTTMS, 0, 1, 60000, "the mean round trip through the tunnel, probe to reply")
	s.MaxJitter = v.millis("sla.max_jitter_ms", r.MaxJitterMS, 0, 1, 60000, "the mean difference of consecutive round trips")
	if v.has("sla.max_loss_percent") {
		if r.MaxLossPercent < 1 || r.MaxLossPercent > 99 {
			v.errorf("sla.max_loss_percent", "%d is out of range (1 to 99, whole percent; 10 is a carrier in trouble)", r.MaxLossPercent)
		} else {
			s.MaxLoss = float64(r.MaxLossPercent)
		}
	}
	s.Action = v.choice("sla.action", r.Action, "out", "out", "degrade")
	s.Weight = 1
	if v.has("sla.degraded_weight") {
		if r.DegradedWeight < 1 || r.DegradedWeight > maxNexthopWeight {
			v.errorf("sla.degraded_weight", "%d is out of range (1 to %d)", r.DegradedWeight, maxNexthopWeight)
		} else {
			s.Weight = int(r.DegradedWeight)
		}
	}
	if v.has("sla.degraded_weight") && s.Action != "degrade" {
		v.errorf("sla.degraded_weight", "is used only with action = \"degrade\" (set it, or remove this key)")
	}
	if s.On() && s.Window < minSLAProbes*s.ProbeInterval {
		v.errorf("sla.window_ms", "%s holds fewer than %d probes at one per %s: nothing would ever be judged (make it at least %d)",
			s.Window, minSLAProbes, s.ProbeInterval, int64(minSLAProbes*s.ProbeInterval/time.Millisecond))
	}
	if !s.On() && (v.has("sla.action") || v.has("sla.window_ms") || v.has("sla.breach_ms")) {
		v.errorf("sla", "sets no limit: add max_rtt_ms, max_jitter_ms or max_loss_percent, or remove [sla]")
	}
}
