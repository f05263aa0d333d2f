package config

import (
	"fmt"
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
		fmt.Fprintln(tw, "  NAME\tUNDERLAY\tTUNNEL\tENDPOINT\tWEIGHT\tFWMARK\tTABLE\tADDRESSES")
		for _, u := range c.Uplinks {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%#x\t%d\t%s\n", u.Name, u.Interface, u.Tunnel,
				u.Endpoint, u.Weight, u.FwMark, u.Table, joinPrefixes(u.Addresses))
		}
	case RoleHub:
		fmt.Fprintf(&b, "tunnels (%d):\n", len(c.Tunnels))
		fmt.Fprintln(tw, "  NAME\tINTERFACE\tPORT\tADDRESSES")
		for _, t := range c.Tunnels {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", t.Name, t.Interface, t.ListenPort, joinPrefixes(t.Addresses))
		}
	}
	tw.Flush()
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

func joinPrefixes[T fmt.Stringer](list []T) string {
	s := make([]string, len(list))
	for i, p := range list {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}
