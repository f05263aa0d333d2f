package lab

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// DefaultWatch reads the edge's default routes (uplinkd's, in the main
// table) straight from its kernel over sockets opened once in ul-home, so
// that polling it every millisecond costs no process start: timing a
// failover with `ip route` put 5-30 ms of fork and exec into the figure.
type DefaultWatch struct {
	fib   *fib.Handle
	links *netlink.Handle
	names map[int]string // ifindex → name; the edge's interfaces outlive a hub
}

// WatchDefault opens a DefaultWatch on the edge; Close it.
func (l *Lab) WatchDefault() (*DefaultWatch, error) {
	w := &DefaultWatch{names: map[int]string{}}
	if err := InNS(l.NS("home"), func() (err error) { w.fib, err = fib.Open(); return err }); err != nil {
		return nil, fmt.Errorf("watch %s: %w", l.NS("home"), err)
	}
	ns, err := netns.GetFromName(l.NS("home"))
	if err != nil {
		w.fib.Close()
		return nil, err
	}
	defer ns.Close()
	if w.links, err = netlink.NewHandleAt(ns); err != nil {
		w.fib.Close()
		return nil, err
	}
	return w, nil
}

// Close releases the watch's sockets.
func (w *DefaultWatch) Close() {
	w.fib.Close()
	w.links.Close()
}

var (
	default4 = netip.MustParsePrefix("0.0.0.0/0")
	default6 = netip.MustParsePrefix("::/0")
)

// Devs lists the interfaces the edge's default route of prefix's family
// leaves by (nil: no default route), one per next hop, sorted.
func (w *DefaultWatch) Devs(v6 bool) ([]string, error) {
	p := default4
	if v6 {
		p = default6
	}
	st, ok, err := w.fib.Multipath(254, config.RouteProtocol, p)
	if err != nil || !ok {
		return nil, err
	}
	devs := make([]string, 0, len(st.Nexthops))
	for _, nh := range st.Nexthops {
		devs = append(devs, w.name(nh.LinkIndex))
	}
	slices.Sort(devs)
	return devs, nil
}

func (w *DefaultWatch) name(index int) string {
	if n, ok := w.names[index]; ok {
		return n
	}
	link, err := w.links.LinkByIndex(index)
	if err != nil {
		return fmt.Sprintf("if%d", index)
	}
	w.names[index] = link.Attrs().Name
	return link.Attrs().Name
}

// Wait polls (every millisecond) until the IPv4 default's interfaces
// satisfy ok, and says how long that took since start.
func (w *DefaultWatch) Wait(ctx context.Context, start time.Time, limit time.Duration, ok func([]string) bool) (time.Duration, []string, error) {
	return w.WaitFamily(ctx, false, start, limit, ok)
}

// WaitFamily is Wait for the IPv6 default (v6) or the IPv4 one.
func (w *DefaultWatch) WaitFamily(ctx context.Context, v6 bool, start time.Time, limit time.Duration, ok func([]string) bool) (time.Duration, []string, error) {
	var last []string
	for time.Since(start) < limit && ctx.Err() == nil {
		devs, err := w.Devs(v6)
		now := time.Now()
		if err == nil && ok(devs) {
			return now.Sub(start), devs, nil
		}
		last = devs
		time.Sleep(time.Millisecond)
	}
	family := "IPv4"
	if v6 {
		family = "IPv6"
	}
	return 0, last, fmt.Errorf("the edge's %s default is via %v after %s", family, last, limit)
}

// OnlyTunnelsTo accepts a default leaving only by the tunnels to a hub
// site (at least one of them).
func (l *Lab) OnlyTunnelsTo(site string) func([]string) bool {
	return func(devs []string) bool {
		for _, d := range devs {
			if !slices.ContainsFunc(Carriers, func(c string) bool { return l.EdgeTunnelTo(site, c) == d }) {
				return false
			}
		}
		return len(devs) > 0
	}
}

// OnlyVia accepts a default leaving by exactly these interfaces.
func OnlyVia(want ...string) func([]string) bool {
	want = slices.Sorted(slices.Values(want))
	return func(devs []string) bool { return slices.Equal(devs, want) }
}
