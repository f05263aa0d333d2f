package daemon

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/sla"
)

// syncSLA starts the SLA monitor once [sla] sets a limit, gives it a
// target per tunnel (the far end's IPv4 tunnel address), and stops it when
// the limits are gone. Its verdicts go to ecmp as they change.
func (d *Daemon) syncSLA(cfg *config.Config) {
	d.mu.Lock()
	m, ctl := d.sla, d.ecmp
	d.mu.Unlock()
	if ctl == nil {
		return
	}
	if !cfg.SLA.On() && !cfg.Liveness.BFD {
		if m != nil {
			m.Close()
			ctl.SetSLA(nil)
			d.mu.Lock()
			d.sla = nil
			d.mu.Unlock()
		}
		return
	}
	if m == nil {
		// BFD's timestamps where they work, ICMP echo where not
		// (slaPinger).
		open := func(a netip.Addr, iface string) (sla.Pinger, error) {
			d.mu.Lock()
			th := d.slaThresholds[iface]
			d.mu.Unlock()
			st := ctl.Stamper(iface)
			if th.MinGoodput > 0 {
				// Goodput is judged by probes that go into the
				// tunnel's queue when sent, one each interval;
				// BFD's packets leave on BFD's schedule.
				st = nil
			}
			return newSLAPinger(st, a, th.Judged()), nil
		}
		m = sla.NewMonitor(open, tunnelBytes, ctl.Alive, d.onSLA, d.log.With("part", "sla"))
		d.mu.Lock()
		d.sla = m
		d.mu.Unlock()
	}
	targets := slaTargets(cfg.SLA, cfg.Liveness.BFD, ecmp.PlanFrom(cfg).Links)
	ths := map[string]sla.Thresholds{}
	for _, t := range targets {
		ths[t.Interface] = t.Thresholds
	}
	d.mu.Lock()
	d.slaThresholds = ths
	d.mu.Unlock()
	m.Set(targets)
}

// onSLA hands the verdicts to ecmp, with the running config's action.
func (d *Daemon) onSLA(v map[string]sla.Verdict) {
	d.mu.Lock()
	s, ctl := d.cfg.SLA, d.ecmp
	d.mu.Unlock()
	ctl.SetSLA(slaVerdicts(s, v))
}

// slaTargets is a probe per tunnel that has an IPv4 peer address and
// limits to meet: its carrier's ([uplink.sla]) or [sla]'s. With BFD on,
// every other tunnel is measured all the time, not judged (issue 17): a
// probe a second on BFD's own packets where the far end is uplinkd and
// BFD runs fast (16 bytes each way, 0.08 GB per 30 days), none where not
// (no ICMP echo unasked for: see newSLAPinger).
func slaTargets(s config.SLA, bfd bool, links []ecmp.Link) []sla.Target {
	var out []sla.Target
	for _, l := range links {
		lim := s.For(l.Carrier)
		if !l.Peer4.IsValid() {
			continue
		}
		if !lim.Judged() {
			if bfd {
				out = append(out, sla.Target{Link: l.Name, Interface: l.Interface, Addr: l.Peer4, Interval: measureInterval,
					Thresholds: sla.Thresholds{Window: measureWindow, LoadDelay: measureLoadDelay}})
			}
			continue
		}
		th := sla.Thresholds{MaxRTT: lim.MaxRTT, MaxJitter: lim.MaxJitter, MaxLoss: lim.MaxLoss,
			MinGoodput: lim.MinGoodput, LoadDelay: s.LoadDelay,
			Window: s.Window, Breach: s.Breach, Recover: s.Recover}
		out = append(out, sla.Target{Link: l.Name, Interface: l.Interface, Addr: l.Peer4, Interval: s.ProbeInterval, Thresholds: th})
	}
	return out
}

// What a tunnel with no SLA limits is measured by: a probe a second over
// 10 s, as [sla]'s defaults.
const (
	measureInterval  = time.Second
	measureWindow    = 10 * time.Second
	measureLoadDelay = 50 * time.Millisecond
)

// tunnelBytes reads a tunnel interface's byte counters, which count inner
// packets alike for kernel WireGuard and a wireguard-go TUN device.
func tunnelBytes(iface string) (rx, tx uint64, err error) {
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return 0, 0, err
	}
	st := l.Attrs().Statistics
	if st == nil {
		return 0, 0, fmt.Errorf("%s: the kernel sent no statistics", iface)
	}
	return st.RxBytes, st.TxBytes, nil
}

// slaVerdicts keeps the degraded tunnels and what the action does to them.
func slaVerdicts(s config.SLA, all map[string]sla.Verdict) map[string]ecmp.SLAVerdict {
	out := map[string]ecmp.SLAVerdict{}
	for link, v := range all {
		if !v.Degraded {
			continue
		}
		w := 0 // "out": a last resort
		if s.Action == "degrade" {
			w = s.Weight
		}
		out[link] = ecmp.SLAVerdict{Weight: w, Reason: v.Reason}
	}
	return out
}

// stopSLA ends the probes.
func (d *Daemon) stopSLA() {
	d.mu.Lock()
	m := d.sla
	d.sla = nil
	d.mu.Unlock()
	if m != nil {
		m.Close()
	}
}

// slaStatus is every probed tunnel's figures; nil without [sla].
func (d *Daemon) slaStatus() []sla.LinkStatus {
	d.mu.Lock()
	m := d.sla
	d.mu.Unlock()
	if m == nil {
		return nil
	}
	return m.Status()
}
