package config

import (
	"fmt"
	"time"
)

// minSLAProbes is how many probes a window must hold to be judged (the
// sla package's minimum).
const minSLAProbes = 5

// maxGoodputKbps bounds min_goodput_kbps: 10 Gbit/s.
const maxGoodputKbps = 10_000_000

// validateSLA checks [sla] and every [uplink.sla]: off unless a limit is
// set; a probe a second, judged over 10 s, out after a 5 s breach, back
// after 30 s of meeting it.
func validateSLA(v *validator, raw *rawFile, c *Config) {
	uplinks := uplinkSLAs(v, raw)
	if !v.has("sla") && len(uplinks) == 0 {
		return // nothing probed, nothing judged
	}
	r := raw.SLA
	s := &c.SLA
	s.ProbeInterval = v.millis("sla.probe_interval_ms", r.ProbeIntervalMS, 1000, 50, 60000, "one ICMP echo per tunnel this often")
	s.Window = v.millis("sla.window_ms", r.WindowMS, 10000, 100, 600000, "the RTT, jitter and loss are computed over this much")
	s.Breach = v.millis("sla.breach_ms", r.BreachMS, 5000, 0, 600000, "how long a breach must last before the tunnel leaves")
	s.Recover = v.millis("sla.recover_ms", r.RecoverMS, 30000, 0, 3600000, "how long it must meet every limit before it returns")
	s.SLALimits = v.slaLimits("sla", rawSLALimits{MaxRTTMS: r.MaxRTTMS, MaxJitterMS: r.MaxJitterMS,
		MaxLossPercent: r.MaxLossPercent, MinGoodputKbps: r.MinGoodputKbps}, SLALimits{}, 1)
	s.LoadDelay = v.millis("sla.load_delay_ms", r.LoadDelayMS, 50, 5, 5000,
		"a probe this much slower than the tunnel's quietest, while it carries traffic, finds it full")
	for _, i := range uplinks {
		p := fmt.Sprintf("uplink[%d].sla", i)
		if s.Uplinks == nil {
			s.Uplinks = map[string]SLALimits{}
		}
		s.Uplinks[raw.Uplink[i].Name] = v.slaLimits(p, raw.Uplink[i].SLA, s.SLALimits, 0)
	}
	s.Action = v.choice("sla.action", r.Action, "out", "out", "degrade")
	s.Weight = 1
	if v.has("sla.degraded_weight") {
		if r.DegradedWeight < 1 || r.DegradedWeight > MaxNexthopWeight {
			v.errorf("sla.degraded_weight", "%d is out of range (1 to %d)", r.DegradedWeight, MaxNexthopWeight)
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
		v.errorf("sla", "sets no limit: add max_rtt_ms, max_jitter_ms, max_loss_percent or min_goodput_kbps, here or in an [uplink.sla], or remove [sla]")
	}
}

// uplinkSLAs lists the uplinks with an [uplink.sla] of their own.
func uplinkSLAs(v *validator, raw *rawFile) []int {
	var out []int
	for i := range raw.Uplink {
		if v.has(fmt.Sprintf("uplink[%d].sla", i)) {
			out = append(out, i)
		}
	}
	return out
}

// slaLimits reads the limits of table p, each key replacing def's; lo is
// the least a key may be (0 in an [uplink.sla]: that limit is not judged
// on this uplink).
func (v *validator) slaLimits(p string, r rawSLALimits, def SLALimits, lo int64) SLALimits {
	l := def
	if v.has(p + ".max_rtt_ms") {
		l.MaxRTT = v.millis(p+".max_rtt_ms", r.MaxRTTMS, 0, lo, 60000, "the mean round trip through the tunnel, probe to reply")
	}
	if v.has(p + ".max_jitter_ms") {
		l.MaxJitter = v.millis(p+".max_jitter_ms", r.MaxJitterMS, 0, lo, 60000, "the mean difference of consecutive round trips")
	}
	if v.has(p + ".max_loss_percent") {
		if r.MaxLossPercent < lo || r.MaxLossPercent > 99 {
			v.errorf(p+".max_loss_percent", "%d is out of range (%d to 99, whole percent; 10 is a carrier in trouble)", r.MaxLossPercent, lo)
		} else {
			l.MaxLoss = float64(r.MaxLossPercent)
		}
	}
	if v.has(p + ".min_goodput_kbps") {
		if r.MinGoodputKbps < lo || r.MinGoodputKbps > maxGoodputKbps {
			v.errorf(p+".min_goodput_kbps", "%d is out of range (%d to %d kbit/s; what the tunnel must carry when it is full, e.g. 1000)",
				r.MinGoodputKbps, lo, maxGoodputKbps)
		} else {
			l.MinGoodput = 1000 * float64(r.MinGoodputKbps)
		}
	}
	return l
}
