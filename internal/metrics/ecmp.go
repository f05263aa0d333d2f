package metrics

import (
	"strings"

	"github.com/uplinkd/uplinkd/internal/ecmp"
)

// ecmp emits liveness and membership per uplink, its BGP sessions, and
// the ECMP routes as a whole.
func (e emitter) ecmp(st *ecmp.Status) {
	for _, l := range st.Links {
		e.link(l)
	}
	e.gauge(descFIBRoutes, float64(len(st.Routes)))
	e.counter(descFIBChanges, float64(st.Changes))
	if f := st.Failover; f != nil && !f.FIBDone.IsZero() {
		e.gauge(descFailover, f.FIBDone.Sub(f.Detected).Seconds(), f.Link)
		e.timestamp(descFailoverAt, f.Detected, f.Link)
	}
	e.flag(descReconcileError, st.Error != "", "ecmp")
	e.counter(descFIBWriteErrors, float64(st.WriteErrors))
	e.counter(descBFDRebinds, float64(st.BFDRebinds))
	for _, h := range st.Hubs {
		e.flag(descHubCarrying, h.Carrying, h.Name)
		e.gauge(descHubAlive, float64(h.Alive), h.Name)
	}
	for _, s := range st.Sites {
		e.gauge(descSiteRefused, float64(s.Refused), s.Name)
	}
	if lr := st.LastResort; lr != nil {
		e.flag(descLastResort, lr.Active, lr.Via)
		if !lr.Since.IsZero() {
			e.timestamp(descLastResortAt, lr.Since, lr.Via)
		}
	}
}

func (e emitter) link(l ecmp.LinkStatus) {
	e.flag(descECMPMember, l.InECMP, l.Name)
	e.gauge(descECMPWeight, float64(l.Weight), l.Name)
	e.flag(descECMPHeld, !l.HeldUntil.IsZero() && l.HeldUntil.After(e.now), l.Name)
	if l.BFD != "off" && l.BFD != "" {
		e.flag(descBFDUp, strings.EqualFold(l.BFD, "up"), l.Name)
		if l.BFDDetect > 0 {
			e.gauge(descBFDDetect, l.BFDDetect.Seconds(), l.Name)
		}
		if strings.HasPrefix(l.BFDMode, "frugal") {
			e.counter(descBFDProbes, float64(l.BFDProbes), l.Name)
			e.counter(descBFDProbeDowns, float64(l.BFDProbeDowns), l.Name)
		}
	}
	for _, p := range l.BGP {
		e.flag(descBGPEstablished, p.Established, l.Name, p.Name, p.Family)
		e.gauge(descBGPReceived, float64(p.Received), l.Name, p.Name, p.Family)
		e.gauge(descBGPAccepted, float64(p.Accepted), l.Name, p.Name, p.Family)
	}
}
