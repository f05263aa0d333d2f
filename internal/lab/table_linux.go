package lab

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// WriteTable prints the demo's summary: one row per carrier, joining the
// edge's view of its tunnel with the hub's (where the hub sees it come
// from is the proof that each tunnel leaves through its own carrier).
func (l *Lab) WriteTable(w io.Writer) error {
	edge, err := api.NewClient(l.Socket("edge")).Status()
	if err != nil {
		return err
	}
	hubBy := map[string]wg.TunnelStatus{} // by hub site and carrier
	down := map[string]bool{}
	l.peerHubTunnels(hubBy)
	for _, site := range l.HubSites() {
		if l.PeerHub() {
			break
		}
		hub, err := api.NewClient(l.Socket(site)).Status()
		if err != nil {
			down[site] = true // a dead hub (kill-hub) says nothing
			continue
		}
		for _, t := range hub.Tunnels {
			hubBy[site+"/"+t.Uplink] = t
		}
	}
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CARRIER\tHUB\tTUNNEL\tIMPL\tHUB SEES IT FROM\tHANDSHAKE\tRX\tTX")
	for _, t := range edge.Tunnels {
		from := hubBy[t.Hub+"/"+t.Uplink].Endpoint
		if down[t.Hub] || (t.Hub == "" && down["hub"]) {
			from = "(hub down)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Uplink, t.Hub, t.Name, t.Impl, from,
			api.Age(t.LastHandshake, now), api.Bytes(t.RxBytes), api.Bytes(t.TxBytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	l.writeRouting(w, edge)
	return nil
}

// peerHubTunnels adds what a peer hub's WireGuard sees as each tunnel's
// endpoint.
func (l *Lab) peerHubTunnels(hubBy map[string]wg.TunnelStatus) {
	if !l.PeerHub() {
		return
	}
	for c, ep := range l.HubEndpoints() {
		hubBy["/"+c] = wg.TunnelStatus{Endpoint: ep}
		hubBy["hub/"+c] = wg.TunnelStatus{Endpoint: ep}
	}
}

// writeRouting adds what the edge routes where, and the proof: what each
// server sees as the LAN host's address.
func (l *Lab) writeRouting(w io.Writer, edge api.Status) {
	if edge.ECMP != nil {
		for _, r := range edge.ECMP.Routes {
			var via []string
			for _, nh := range r.NextHops {
				via = append(via, fmt.Sprintf("%s(%d)", nh.Link, nh.Weight))
			}
			fmt.Fprintf(w, "\nECMP %s over %s (%s next hops)", r.Prefix, strings.Join(via, " "), edge.ECMP.Mode)
		}
		fmt.Fprintln(w)
	}
	if b := edge.Breakout; b != nil {
		fmt.Fprintf(w, "breakout: %d prefixes via the 5G router %s from", b.Compile.Installed, b.Gateway.Addr)
		for _, s := range b.Sources {
			fmt.Fprintf(w, " %s(%d)", s.Name, s.Prefixes)
		}
		fmt.Fprintln(w)
	}
	if lr := edge.ECMP; lr != nil && lr.LastResort != nil {
		fmt.Fprintf(w, "last resort: via %s, active %v\n", lr.LastResort.Via, lr.LastResort.Active)
	}
	hubs := "the hub"
	if l.Hubs > 1 {
		hubs = "a hub (" + HubPublic + " or " + Hub2Public + ")"
	}
	for _, t := range []struct{ server, addr, want string }{
		{"ul-web", WebAddr, hubs}, {"ul-media", MediaAddr, "the 5G router"}} {
		seen, err := l.WhoAmI("lan", t.addr)
		if err != nil {
			seen = "no answer (" + err.Error() + ")"
		}
		fmt.Fprintf(w, "from ul-lan, %s (%s) sees %s: %s\n", t.server, t.addr, seen, t.want)
	}
	// Inbound: ul-web reaches the LAN host's published service at the
	// hub, and the LAN host sees ul-web's own address.
	for _, site := range l.DaemonSites() {
		if site != "hub" && site != "hub2" {
			continue
		}
		if _, err := api.NewClient(l.Socket(site)).Status(); err != nil {
			continue // a dead hub publishes nothing
		}
		seen, err := l.WhoAmIAt("web", HubAddr(site), PublishPort)
		if err != nil {
			seen = "no answer (" + err.Error() + ")"
		}
		fmt.Fprintf(w, "from ul-web, the LAN host's service published at %s:%d sees %s: the client itself\n", HubAddr(site), PublishPort, seen)
	}
}
