package ecmp

import (
	"context"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// watchCarriers follows the carrier links under the tunnels (netlink link
// updates, in the daemon's namespace): one that loses carrier takes its
// tunnels out at once, the way FRR and BIRD withdraw on interface down,
// instead of waiting BFD's detection time for a fact the kernel already
// knows. It ends with ctx. It is a subscription of its own, beside the
// daemon's (which coalesces bursts into a WireGuard reconcile): a lost
// carrier must not wait behind that reconcile, as a BFD failure does not
// (see failovers).
func (c *Controller) watchCarriers(ctx context.Context) {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		ListExisting:  true,
		ErrorCallback: func(err error) { c.log.Warn("carrier watch", "err", err) },
	})
	if err != nil {
		c.log.Warn("carrier watch not started: tunnels leave on BFD only", "err", err)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case u, ok := <-updates:
			if !ok {
				return
			}
			c.onCarrier(u.Attrs().Name, hasCarrier(u), time.Now())
		}
	}
}

// hasCarrier: up, with carrier (IFF_LOWER_UP), and not being deleted.
func hasCarrier(u netlink.LinkUpdate) bool {
	return u.Header.Type != unix.RTM_DELLINK && u.IfInfomsg.Flags&unix.IFF_UP != 0 && u.IfInfomsg.Flags&unix.IFF_LOWER_UP != 0
}

// onCarrier records a carrier interface's state for the tunnels over it
// and, when that took one out, triggers the fast reconcile as a BFD
// failure does.
func (c *Controller) onCarrier(ifname string, up bool, at time.Time) {
	var changed, failed bool
	c.mu.Lock()
	for _, l := range c.plan.Links {
		if l.Underlay == "" || l.Underlay != ifname {
			continue
		}
		ch, f := c.live.ObserveCarrier(l.Name, up, at)
		if f {
			c.downAt[l.Name] = at
		}
		changed, failed = changed || ch, failed || f
	}
	if failed {
		c.signalled = time.Now()
	}
	c.mu.Unlock()
	switch {
	case failed:
		c.failNow()
		c.log.Info("carrier lost: its tunnels leave", "interface", ifname)
	case changed:
		c.log.Info("carrier back", "interface", ifname, "up", up)
		c.kick() // the hold-down starts; the reconcile times it
	}
}
