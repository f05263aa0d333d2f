// Package nat owns the site's source NAT and the forwarding sysctls: on
// the hub, traffic from the edge (its LAN prefixes and tunnel addresses)
// leaving through the public interface is masqueraded to the hub's public
// address; on an edge with breakout, the LAN leaving by the breakout link.
// Everything lives in one nftables table, "uplinkd", which nothing else
// writes and which is removed when the daemon stops. A Reconciler applies
// the desired state and reads it back on a timer (ReadBackEvery), so a
// firewall reload that flushes the ruleset is repaired, and counted.
package nat
