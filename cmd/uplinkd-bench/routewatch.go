package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// defaultWatch follows the edge's IPv4 default route the way `ip monitor`
// would, so that waitVia reads nothing while the daemon writes: a
// resilient group losing or gaining a member is notified with the group's
// new members (RTM_NEWNEXTHOP), which it decodes; only what it cannot
// decode (the default route itself changed, a member it has not seen, a
// lost notification) sends it back to a dump. A poller dumping every
// millisecond made the daemon's failover writes wait for it (a nexthop
// dump holds the rtnl lock they need; seen with bpftrace): the instrument
// adding to what it measured (row 1c).
//
// A member object changing in place is followed too: uplinkd steers a
// dead tunnel's member to a survivor's device before deleting it, and
// from that notification on the kernel no longer forwards through the
// dead tunnel.
type defaultWatch struct {
	l       *benchLab
	group   uint32            // the default route's group: 0 when it has none
	entries []fib.GroupMember // its members, as last notified or read
	members map[uint32]int    // nexthop object → its link index
}

// read dumps the default route and uplinkd's nexthop objects.
func (w *defaultWatch) read() (map[string]int, error) {
	via, group, err := w.l.defaultVia()
	if err != nil {
		return nil, err
	}
	w.group, w.members = group, map[uint32]int{}
	if group == 0 {
		return via, nil
	}
	objs, err := w.l.fib.Nexthops(config.RouteProtocol, ecmp.NexthopIDs)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		switch {
		case o.Group == nil:
			w.members[o.ID] = o.LinkIndex
		case o.ID == group:
			w.entries = o.Group
		}
	}
	return via, nil
}

// via is the group's members as carrier → weight, ok false when a member
// is not known.
func (w *defaultWatch) via() (map[string]int, bool) {
	via := map[string]int{}
	for _, m := range w.entries {
		link, known := w.members[m.ID]
		if !known {
			return nil, false
		}
		for carrier, idx := range w.l.tunIdx {
			if idx == link {
				via[carrier] = m.Weight
			}
		}
	}
	return via, true
}

// apply decodes a notification batch: the group's new members, as
// carrier → weight, or ok false when only a dump can tell.
func (w *defaultWatch) apply(c fib.Change) (via map[string]int, changed, ok bool) {
	if c.Lost || w.group == 0 {
		return nil, false, false
	}
	for _, r := range c.Routes {
		if r.Table == 254 && r.Prefix == defaultRoute {
			return nil, false, false
		}
	}
	for _, n := range c.Nexthops {
		switch {
		case n.Deleted && n.ID == w.group:
			return nil, false, false
		case n.Deleted:
			delete(w.members, n.ID)
		case n.Group == nil:
			w.members[n.ID] = n.LinkIndex
			changed = changed || slices.ContainsFunc(w.entries, func(m fib.GroupMember) bool { return m.ID == n.ID })
		case n.ID == w.group:
			w.entries, changed = n.Group, true
		}
	}
	if !changed {
		return nil, false, true
	}
	via, ok = w.via()
	return via, ok, ok
}

// waitVia returns when ok first accepts the default route's next hops:
// read at once, then followed through notifications (see defaultWatch),
// and read again every 10 ms in case one was missed.
func (l *benchLab) waitVia(ctx context.Context, limit time.Duration, ok func(map[string]int) bool) (time.Time, error) {
	deadline := time.Now().Add(limit)
	w := &defaultWatch{l: l}
	l.monitor.Drain() // what came before is in the first read
	via, err := w.read()
	for {
		now := time.Now()
		if err == nil && ok(via) {
			return now, nil
		}
		if !now.Before(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("default route via %v after %s", via, limit)
		}
		c := l.monitor.Wait(min(10*time.Millisecond, time.Until(deadline)))
		next, changed, decoded := w.apply(c)
		switch {
		case !decoded || (len(c.Nexthops) == 0 && len(c.Routes) == 0):
			via, err = w.read() // undecodable, or 10 ms without a word
		case changed:
			via, err = next, nil
		}
	}
}
