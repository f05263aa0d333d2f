// Package nat owns the hub's source NAT: traffic from the edge (its LAN
// prefixes and tunnel addresses) leaving through the public interface is
// masqueraded to the hub's public address. Everything lives in one
// nftables table, "uplinkd", which nothing else writes and which is
// removed when the daemon stops.
package nat
