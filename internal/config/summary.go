package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Summary describes a valid configuration in a few lines, as `uplinkd
// check` prints it. It shows no key material.
func (c *Config) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: role %s, site %s, AS%d, router-id %s\n", c.File, c.Role, c.Site, c.ASN, c.RouterID)
	fmt.Fprintf(&b, "wireguard: %s, mtu %d, key %s\n", c.WireGuard.Impl, c.WireGuard.MTU, c.WireGuard.PrivateKeyFile)
	if c.Role == RoleHub {
		fmt.Fprintf(&b, "public interface: %s\n", c.Hub.PublicInterface)
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	switch c.Role {
	case RoleEdge:
		fmt.Fprintf(&b, "uplinks (%d):\n", len(c.Uplinks))
		fmt.Fprintln(tw, "  NAME\tUNDERLAY\tWEIGHT\tFWMARK\tTABLE\tBUDGET")
		for _, u := range c.Uplinks {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%#x\t%d\t%s\n", u.Name, u.Interface, u.Weight, u.FwMark, u.Table, u.Budget)
		}
		tw.Flush()
		fmt.Fprintf(&b, "hubs (%d):\n", len(c.Hubs))
		for _, h := range c.Hubs {
			fmt.Fprintf(&b, "  %s: AS%d, preference %d, weight %d\n", h.Name, h.ASN, h.Preference, h.Weight)
		}
		fmt.Fprintf(&b, "tunnels (%d):\n", len(c.EdgeTunnels))
		fmt.Fprintln(tw, "  NAME\tUPLINK\tHUB\tTUNNEL\tENDPOINT\tADDRESSES")
		for _, t := range c.EdgeTunnels {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Uplink, t.Hub, t.Interface, t.Endpoint, joinPrefixes(t.Addresses))
		}
		if c.ECMP.LastResort != "" {
			fmt.Fprintf(tw, "last resort: %s\n", c.ECMP.LastResort)
		}
	case RoleHub:
		for _, s := range c.Sites {
			if s.Name != "" {
				fmt.Fprintf(&b, "edge %s: AS%d, accepts %s\n", s.Name, s.ASN, joinPrefixes(s.Accept))
			}
		}
		fmt.Fprintf(&b, "tunnels (%d):\n", len(c.Tunnels))
		fmt.Fprintln(tw, "  NAME\tINTERFACE\tPORT\tADDRESSES")
		for _, t := range c.Tunnels {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", t.Link(), t.Interface, t.ListenPort, joinPrefixes(t.Addresses))
		}
	}
	tw.Flush()
	for _, p := range c.Publish {
		lo, hi := p.LANPorts()
		fmt.Fprintf(&b, "publish %s: %s %s -> %s port %s", p.Name, p.Protocol, portRange(p.Port, p.PortEnd), p.To.Addr(), portRange(lo, hi))
		if p.To6.IsValid() {
			fmt.Fprintf(&b, ", %s", p.To6.Addr())
		}
		if len(p.Allow) > 0 {
			fmt.Fprintf(&b, ", from %s", joinPrefixes(p.Allow))
		}
		if p.Rate > 0 {
			fmt.Fprintf(&b, ", at most %d new/s", p.Rate)
		}
		fmt.Fprintln(&b)
	}
	if c.API.Metrics != "" && !c.metricsOnLoopback() {
		fmt.Fprintf(&b, "metrics: served on %s to every host that can reach it (metrics_public = true)\n", c.API.Metrics)
	}
	if c.BGP.Password != "" {
		fmt.Fprintln(&b, "bgp: tcp-md5 on every session (password not shown)")
	}
	if !c.BGP.TTLSecurity {
		fmt.Fprintln(&b, "bgp: ttl security (GTSM) off: sessions send TTL 1")
	}
	if c.Breakout.Enabled() {
		bo := c.Breakout
		fmt.Fprintf(&b, "breakout: via %s, table %d, rule priority %d, %d sources:", bo.Gateway, bo.Table, bo.RulePriority, len(bo.Sources))
		for _, s := range bo.Sources {
			fmt.Fprintf(&b, " %s (%s)", s.Name, s.Type)
		}
		fmt.Fprintln(&b)
	}
	return b.String()
}

// metricsOnLoopback reports whether the metrics address is loopback; a
// valid config holds an IP literal there.
func (c *Config) metricsOnLoopback() bool {
	ap, err := netip.ParseAddrPort(c.API.Metrics)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

func joinPrefixes[T fmt.Stringer](list []T) string {
	s := make([]string, len(list))
	for i, p := range list {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

// String describes a budget in one line of `uplinkd check`'s summary.
func (b Budget) String() string {
	if b.Bytes == 0 {
		return "-"
	}
	return fmt.Sprintf("%s from day %d, weight %d at %d %%, last resort at %d %%",
		decimalBytes(b.Bytes), b.BillingDay, b.SoftWeight, b.SoftPercent, b.HardPercent)
}

// decimalBytes prints a size in the decimal units carriers bill in.
func decimalBytes(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f, i := float64(n), 0
	for ; f >= 1000 && i < len(units)-1; i++ {
		f /= 1000
	}
	return strconv.FormatFloat(f, 'f', -1, 64) + " " + units[i]
}
