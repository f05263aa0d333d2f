// Package sla judges each tunnel's quality against the operator's
// thresholds: a carrier that answers every liveness packet while its
// latency climbs to seconds, it loses a quarter of its packets, or it is
// throttled to 128 kbit/s is "up but bad", which neither BGP nor BFD sees.
// A probe per tunnel (ICMP echo to the far end's tunnel address, through
// the tunnel) gives round-trip time, jitter and loss over a sliding
// window, and the tunnel interface's counters what it carried: its
// goodput is judged while it is full (its probes queued behind its own
// traffic; see goodput.go). A breach that lasts Breach marks the tunnel
// degraded (ecmp then lowers its weight or keeps it only as a last
// resort, never taking the last one out), and it returns after it has met
// every threshold for Recover. Only a live tunnel is probed; one that BFD
// had out for over a minute starts afresh when it comes back, one that
// flaps keeps the figures of its spells up.
package sla
