// Package inbound owns what reaches the home from outside: on the hub, the
// services published at its public address ([[publish]]: DNAT that keeps
// the client's address for IPv4, routed IPv6) and a firewall that drops
// everything else from the public side towards the edge LANs; on the edge,
// a firewall that lets in from the tunnels only what is published, and the
// connection marks that send each reply back through the hub it came from.
// It all lives in one nftables table, rebuilt as a whole when it differs
// from what is wanted and read back on every reconcile.
package inbound
