package ecmp

import (
	"context"
	"time"

	"github.com/uplinkd/uplinkd/internal/bfd"
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
		ls := LinkStatus{Name: l.Name, Interface: l.Interface, Weight: l.Weight, BFD: "off"}
		if b, ok := bfds[l.Interface]; ok && c.plan.BFD {
			ls.BFD, ls.BFDDetect = b.State.String(), b.DetectTime.String()
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
		st.Links = append(st.Links, ls)
	}
	for _, p := range sortedPrefixes(c.installed) {
		rs := RouteStatus{Prefix: p.String(), Group: c.groups[p]}
		for _, nh := range c.installed[p] {
			rs.NextHops = append(rs.NextHops, NextHop{Link: byIndex[nh.LinkIndex], Via: nh.Gateway.String(), Weight: nh.Weight})
			for i := range st.Links {
				if st.Links[i].Name == byIndex[nh.LinkIndex] {
					st.Links[i].InECMP = true
				}
			}
		}
		st.Routes = append(st.Routes, rs)
	}
	return st
}
