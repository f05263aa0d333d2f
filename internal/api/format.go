package api

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout/engine"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/nat"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// WriteStatus prints a daemon's status as an aligned table, in the manner
// of `wg show` and `birdc show protocols`.
func WriteStatus(w io.Writer, s Status, now time.Time) error {
	fmt.Fprintf(w, "%s %s, up %s, config %s\n", s.Role, s.Site, Age(s.Started, now), s.Config)
	if s.LastErr != "" {
		fmt.Fprintf(w, "last error: %s\n", s.LastErr)
	}
	if m := s.Memory; m != nil {
		limit := "none"
		if m.LimitBytes > 0 {
			limit = Bytes(m.LimitBytes)
		}
		fmt.Fprintf(w, "memory: rss %s, heap %s (next collection at %s), limit %s",
			Bytes(m.RSSBytes), Bytes(m.HeapBytes), Bytes(m.HeapGoalBytes), limit)
		if m.Trims > 0 {
			fmt.Fprintf(w, ", %s returned in %d trims", Bytes(m.TrimmedBytes), m.Trims)
		}
		fmt.Fprintln(w)
	}
	if n := s.NAT; n != nil {
		writeNAT(w, *n, now)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nUPLINK\tTUNNEL\tIMPL\tPORT\tPEER ENDPOINT\tHANDSHAKE\tRX\tTX\tRX/s\tTX/s")
	for _, t := range s.Tunnels {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", tunnelOwner(t), t.Name, dash(t.Impl), t.ListenPort,
			dash(t.Endpoint), Age(t.LastHandshake, now), Bytes(t.RxBytes), Bytes(t.TxBytes),
			Bytes(int64(t.RxRate)), Bytes(int64(t.TxRate)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.ECMP != nil {
		if err := writeECMP(w, *s.ECMP, now); err != nil {
			return err
		}
	}
	if err := writeBudgets(w, s.Budgets, now); err != nil {
		return err
	}
	if err := writeSLA(w, s.SLA); err != nil {
		return err
	}
	if s.Inbound != nil {
		writeInbound(w, *s.Inbound)
	}
	if s.Breakout != nil {
		return writeBreakout(w, *s.Breakout, now)
	}
	return nil
}

// writeInbound prints the published services and the firewall's state.
func writeInbound(w io.Writer, in Inbound) {
	state := "ok"
	if in.Error != "" {
		state = "error: " + in.Error
	}
	fmt.Fprintf(w, "\nINBOUND (nftables table %s, %s, %d repairs, %d uninvited packets dropped)\n", in.Table, state, in.Repairs, in.DroppedPackets)
	if len(in.Published) == 0 {
		fmt.Fprintln(w, "nothing published: new connections from outside are dropped")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tPROTO\tPORTS\tTO\tTO (v6)\tALLOW\tRATE/s\tCONNECTIONS")
	for _, p := range in.Published {
		rate := "-"
		if p.Rate > 0 {
			rate = fmt.Sprint(p.Rate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", p.Name, p.Protocol, p.Ports, p.To, dash(p.To6), dash(strings.Join(p.Allow, " ")), rate, p.Connections)
	}
	tw.Flush()
}

// tunnelOwner names a tunnel's uplink, with its hub when the edge has
// several (uplink@hub) or its edge site on a hub serving several.
func tunnelOwner(t wg.TunnelStatus) string {
	switch {
	case t.Hub != "" && t.Hub != config.DefaultHub:
		return t.Uplink + "@" + t.Hub
	case t.Site != "":
		return t.Uplink + "@" + t.Site
	}
	return t.Uplink
}

// writeNAT prints the masquerade table and forwarding as last read back,
// and the repairs the read-back made.
func writeNAT(w io.Writer, n nat.Status, now time.Time) {
	fwd := "on"
	if !n.Forwarding {
		fwd = "not confirmed"
	}
	fmt.Fprintf(w, "nat: %d masquerade rules, forwarding %s, read back %s; %d repairs", n.Rules, fwd, Age(n.CheckedAt, now), n.Repairs)
	if n.Repairs > 0 {
		fmt.Fprintf(w, " (last %s: %s)", Age(n.LastRepair, now), n.LastRepairWhat)
	}
	fmt.Fprintln(w)
	if n.Error != "" {
		fmt.Fprintf(w, "nat error: %s\n", n.Error)
	}
}

// writeBreakout prints the gateway, the install and each source.
func writeBreakout(w io.Writer, b engine.Status, now time.Time) error {
	c, g := b.Compile, b.Gateway
	state := "routing"
	if b.Withdrawn != "" {
		state = b.Withdrawn
	}
	fmt.Fprintf(w, "\nBREAKOUT via %s (table %d, rule %d): %s\n", g.Addr, c.Table, c.RulePriority, state)
	gw := "not probed"
	if g.Probing {
		gw = fmt.Sprintf("down for %s (%d missed)", Duration(now.Sub(g.Since)), g.Misses)
		if g.Healthy {
			gw = fmt.Sprintf("up, rtt %s", g.LastRTT.Round(time.Microsecond))
		}
	}
	fmt.Fprintf(w, "gateway %s; %d routes installed of %d desired (%d entries accepted", gw, c.Installed, c.Desired, c.Accepted)
	rejected := 0
	for _, r := range c.Rejected {
		rejected += r.Count
	}
	fmt.Fprintf(w, ", %d rejected)", rejected)
	if !c.LastInstall.IsZero() {
		fmt.Fprintf(w, "; last install %s: +%d -%d in %s", Age(c.LastInstall, now), c.Added, c.Deleted, c.InstallTook.Round(time.Microsecond))
	}
	fmt.Fprintln(w)
	if c.ChurnBlocked {
		fmt.Fprintf(w, "install held: it would delete %d prefixes, more than max_churn_percent allows (`uplinkd breakout accept --all` takes it)\n", c.Pending)
	}
	if c.LastError != "" {
		fmt.Fprintf(w, "error: %s\n", c.LastError)
	}
	if c.MarkerError != "" {
		fmt.Fprintf(w, "warning: table and rule priority not saved (%s): fix the state directory\n", c.MarkerError)
	}
	for _, warn := range b.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if rb := b.ReadBack; rb.RuleRepairs+rb.RouteRepairs > 0 || rb.LastError != "" {
		fmt.Fprintf(w, "read-back every %gs: %d rule and %d route repairs", rb.IntervalSeconds, rb.RuleRepairs, rb.RouteRepairs)
		if !rb.LastRepair.IsZero() {
			fmt.Fprintf(w, ", last %s (%s)", Age(rb.LastRepair, now), rb.LastRepairWhat)
		}
		if rb.LastError != "" {
			fmt.Fprintf(w, "; error: %s", rb.LastError)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTYPE\tPREFIXES\tLAST SUCCESS\tSTATE\tERROR")
	for _, src := range b.Sources {
		st := "fresh"
		switch {
		case src.Held:
			st = fmt.Sprintf("held %s (%d fetched)", Age(src.HeldSince, now), src.HeldPrefixes)
		case src.Stale:
			st = "stale"
		case src.Restored:
			st = "from disk"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", src.Name, src.Kind, src.Prefixes, Age(src.LastSuccess, now), st, dash(src.LastError))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, src := range b.Sources {
		if src.Held {
			fmt.Fprintf(w, "%s (`uplinkd breakout accept %s` takes it, once)\n", src.HeldReason, src.Name)
		}
	}
	return nil
}

// writeECMP prints the liveness of each tunnel and the ECMP routes.
func writeECMP(w io.Writer, e ecmp.Status, now time.Time) error {
	fmt.Fprintf(w, "\nECMP (%s next hops, table %d, %d FIB changes)\n", e.Mode, e.Table, e.Changes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LINK\tWEIGHT\tBFD\tBGP\tIN ECMP\tNOTE")
	for _, l := range e.Links {
		var bgp []string
		for _, p := range l.BGP {
			st := p.State
			if p.Established {
				st = fmt.Sprintf("up %s, %d/%d pfx", Duration(now.Sub(p.Since)), p.Accepted, p.Received)
			}
			bgp = append(bgp, p.Family[:4]+" "+st)
		}
		note := l.BFDNote
		if !l.HeldUntil.IsZero() {
			note = strings.TrimSpace(note + fmt.Sprintf(" hold-down %.1fs", l.HeldUntil.Sub(now).Seconds()))
		}
		note = strings.TrimSpace(note + " " + budgetNote(l) + " " + l.SLANote)
		for _, p := range l.BGP {
			if p.LastError != "" {
				note = strings.TrimSpace(note + " " + p.LastError)
			}
			if p.Note != "" {
				note = strings.TrimSpace(note + " " + p.Family[:4] + ": " + p.Note)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", l.Name, l.Weight, l.BFD, dash(strings.Join(bgp, "; ")), yesNo(l.InECMP), note)
	}
	writeGroups(tw, "HUB", e.Hubs)
	writeGroups(tw, "EDGE SITE", e.Sites)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "PREFIX\tNEXT HOPS")
	for _, r := range e.Routes {
		var nhs []string
		for _, nh := range r.NextHops {
			via := ""
			if nh.Via != "" { // a route adopted before BGP named its next hop
				via = " via " + nh.Via
			}
			nhs = append(nhs, fmt.Sprintf("%s%s weight %d", nh.Link, via, nh.Weight))
		}
		fmt.Fprintf(tw, "%s\t%s\n", r.Prefix, strings.Join(nhs, ", "))
	}
	if lr := e.LastResort; lr != nil {
		state := "standing by"
		if lr.Active {
			state = fmt.Sprintf("ACTIVE for %s (%s): no tunnel of any hub is alive", strings.Join(lr.Prefixes, " "), strings.TrimSuffix(Age(lr.Since, now), " ago"))
		} else if !lr.Since.IsZero() {
			state += fmt.Sprintf(" (last active until %s)", Age(lr.Since, now))
		}
		fmt.Fprintf(tw, "\nlast resort via %s: %s\n", lr.Via, state)
		if lr.Error != "" {
			fmt.Fprintf(tw, "last resort error: %s\n", lr.Error)
		}
	}
	if e.Failover != nil {
		fmt.Fprintf(tw, "\nlast failover: %s out of the FIB %s after detection (%s)\n", e.Failover.Link, e.Failover.Took.Round(time.Microsecond), Age(e.Failover.Detected, now))
	}
	if e.Error != "" {
		fmt.Fprintf(tw, "error: %s\n", e.Error)
	}
	return tw.Flush()
}

// writeGroups prints hubs (edge) or edge sites (hub) with their tunnels;
// one unnamed group (the one-hub form) says nothing worth a table.
func writeGroups(tw io.Writer, title string, gs []ecmp.GroupStatus) {
	if len(gs) == 0 || len(gs) == 1 && gs[0].Name == config.DefaultHub {
		return
	}
	fmt.Fprintf(tw, "\n%s\tPREFERENCE\tTUNNELS ALIVE\tIN ECMP\tCARRIES TRAFFIC\tREFUSED PFX\n", title)
	for _, g := range gs {
		pref := "-"
		if g.Preference != 0 {
			pref = fmt.Sprint(g.Preference)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\t%d\n", g.Name, pref, g.Alive, len(g.Tunnels), g.InECMP, yesNo(g.Carrying), g.Refused)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Age says how long ago t was, "never" for the zero time.
func Age(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return Duration(now.Sub(t)) + " ago"
}

// Duration prints a span the way the status table does: 4.2s, 3m05s, 2h5m0s.
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return d.Round(time.Minute).String()
}

// Bytes prints a byte count with a binary unit.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
