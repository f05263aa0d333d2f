package ecmp

import "strconv"

// SLAVerdict is what a tunnel's SLA verdict does to it (internal/sla
// judges; the daemon passes the degraded ones on with Controller.SetSLA):
// Weight 0 keeps it only as a last resort (in while nothing else is
// alive), a positive Weight lowers its weight to that.
type SLAVerdict struct {
	Weight int
	Reason string // "loss 23 % > 10 % for 12 s"
}

// slaLimited applies a tunnel's SLA verdict to its member, after its
// carrier's budget limit: whichever is harsher wins.
func slaLimited(m Member, v SLAVerdict, degraded bool) Member {
	if !degraded {
		return m
	}
	if v.Weight == 0 {
		m.LastResort = true
	} else if v.Weight < m.Weight {
		m.Weight = v.Weight
	}
	return m
}

// slaNote is a degraded tunnel's note in status.
func slaNote(v SLAVerdict) string {
	if v.Weight == 0 {
		return "sla: " + v.Reason + "; kept only as a last resort"
	}
	return "sla: " + v.Reason + "; weight lowered to " + strconv.Itoa(v.Weight)
}
