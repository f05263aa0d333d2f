package ecmp

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/bfd"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
)

// Status snapshots the controller for the control socket.
func (c *Controller) Status(ctx context.Context) Status {
	peers := c.speaker.Peers(ctx)
	bfds := map[string]bfd.Status{}
	for _, s := range c.bfd.Snapshot() {
		bfds[s.Interface] = s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	st := Status{Mode: c.Mode(), Table: c.plan.Table, Changes: c.changes}
	if c.lastErr != nil {
		st.Error = c.lastErr.Error()
	}
	if !c.lastFail.Detected.IsZero() {
		f := c.lastFail
		st.Failover = &f
	}
	byIndex := map[int]string{}
	members := c.lookupMembers() // one link lookup per tunnel, not per tunnel per tunnel
	for _, l := range c.plan.Links {
		ls := LinkStatus{Name: l.Name, Interface: l.Interface, Hub: l.Hub, Site: l.Site, Weight: l.Weight, BFD: "off"}
		if b, ok := bfds[l.Interface]; ok && c.plan.BFD {
			ls.BFD, ls.BFDDetect, ls.BFDMode = b.State.String(), b.DetectTime, b.Liveness
			ls.BFDProbes, ls.BFDProbeDowns = b.Probes, b.ProbeDowns
		}
		if c.live.PeerAdminDown(l.Name) {
			ls.BFDNote = "peer administratively down"
		}
		if held, until := c.live.Held(l.Name, now); held {
			ls.HeldUntil = until
		}
		for _, p := range peers {
			if p.Name == peerName(l.Name, false) || p.Name == peerName(l.Name, true) {
				ls.BGP = append(ls.BGP, p)
			}
		}
		if m, ok := members[peerName(l.Name, false)]; ok {
			byIndex[m.LinkIndex] = l.Name
		}
		if lim := c.limits[l.Carrier]; lim != Unlimited {
			ls.BudgetLimit, ls.BudgetWeight = lim.String(), limited(Member{Weight: l.Weight}, l, lim).Weight
		}
		if v, ok := c.sla[l.Name]; ok {
			ls.SLANote = slaNote(v)
		}
		st.Links = append(st.Links, ls)
	}
	lr := c.lastResortStatus()
	for _, p := range sortedPrefixes(c.installed) {
		rs := RouteStatus{Prefix: p.String(), Group: c.groups[rkey{c.plan.Table, p}]}
		for _, nh := range c.installed[p] {
			name, ok := byIndex[nh.LinkIndex]
			if !ok && lr != nil && lr.Active && slices.Contains(lr.Prefixes, p.String()) {
				name = "last-resort:" + lr.Via
			}
			rs.NextHops = append(rs.NextHops, NextHop{Link: name, Via: via(nh.Gateway), Weight: nh.Weight})
			for i := range st.Links {
				if st.Links[i].Name == byIndex[nh.LinkIndex] {
					st.Links[i].InECMP = true
				}
			}
		}
		st.Routes = append(st.Routes, rs)
	}
	st.LastResort, st.WriteErrors, st.BFDRebinds = lr, c.writeErrors, c.bfdRebinds
	st.Hubs, st.Sites = c.groupStatus(st.Links, now)
	return st
}

// lastResortStatus: nil when there is none. Called with c.mu held.
func (c *Controller) lastResortStatus() *LastResortStatus {
	if c.plan.LastResort == nil {
		return nil
	}
	s := &LastResortStatus{Via: c.plan.LastResort.Via, Active: c.lrActive, Since: c.lrSince}
	for _, p := range c.lrPrefixes {
		s.Prefixes = append(s.Prefixes, p.String())
	}
	if c.lrErr != nil {
		s.Error = c.lrErr.Error()
	}
	return s
}

// groupStatus sums the links by hub (edge) and by edge site (a hub with
// several). Called with c.mu held.
func (c *Controller) groupStatus(links []LinkStatus, now time.Time) (hubs, sites []GroupStatus) {
	pref := map[string]int{}
	for _, l := range c.plan.Links {
		if l.Hub != "" {
			pref[l.Hub] = l.Preference
		}
	}
	add := func(list []GroupStatus, name string, l LinkStatus) []GroupStatus {
		i := slices.IndexFunc(list, func(g GroupStatus) bool { return g.Name == name })
		if i < 0 {
			list = append(list, GroupStatus{Name: name, Preference: pref[name]})
			i = len(list) - 1
		}
		g := &list[i]
		g.Tunnels = append(g.Tunnels, l.Name)
		if c.live.Alive(l.Name, now) || (!c.plan.BFD && established(l.BGP)) {
			g.Alive++
		}
		if l.InECMP {
			g.InECMP++
			g.Carrying = true
		}
		for _, b := range l.BGP {
			if b.Received > b.Accepted {
				g.Refused += b.Received - b.Accepted
			}
		}
		return list
	}
	for _, l := range links {
		switch {
		case l.Hub != "":
			hubs = add(hubs, l.Hub, l)
		case l.Site != "":
			sites = add(sites, l.Site, l)
		}
	}
	return hubs, sites
}

func established(peers []bgp.PeerState) bool {
	for _, p := range peers {
		if p.Established {
			return true
		}
	}
	return false
}

// via is a next hop's address for status: "" for a device-only one (a
// route adopted from the kernel before BGP has named its next hop).
func via(gw netip.Addr) string {
	if !gw.IsValid() {
		return ""
	}
	return gw.String()
}
