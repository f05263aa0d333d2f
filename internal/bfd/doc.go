// Package bfd owns tunnel liveness: Bidirectional Forwarding Detection in
// asynchronous mode (RFC 5880) over single-hop UDP (RFC 5881), one session per
// tunnel peer, reporting state changes to a callback fast enough that the ECMP
// reconciler can drop a dead next hop long before BGP's hold timer would.
//
// Authentication, demand mode and the echo function are not implemented;
// packets with the A bit set are discarded, as RFC 5880 §6.8.6 requires of a
// session without authentication.
package bfd
