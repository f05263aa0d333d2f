// Package ecmp owns the balancing of traffic across the live tunnels: it
// runs the BGP speaker (sub-package bgp) and BFD on every tunnel, decides
// which tunnels are alive, computes for each BGP-learned prefix the set of
// weighted next hops through the live tunnels, and programs that into the
// kernel FIB as one route per prefix (a resilient next-hop group where the
// kernel has them, so a dead tunnel moves only its own flows).
//
// BGP and BFD events are triggers; the state is recomputed from scratch on
// each, and the FIB is diffed against what the kernel really holds.
package ecmp
