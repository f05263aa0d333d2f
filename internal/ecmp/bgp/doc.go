// Package bgp is the BGP speaker: an embedded GoBGP v3 server, configured
// from one Config, that keeps one eBGP session per tunnel and family,
// announces the originated prefixes and filters what it accepts. It never
// touches the kernel (no zebra): the ECMP reconciler takes Changes as a
// trigger, then reads Peers and Routes and computes the FIB itself.
//
// # How GoBGP is used
//
//   - Sessions: one neighbor per Peer, keyed by neighbor address; it carries
//     ipv4-unicast or ipv6-unicast by the neighbor's family, so a prefix is
//     announced only to peers of its family. GTSM is on (TTL 255, minimum
//     255, RFC 5082): the far side must enable it too. Only configured
//     neighbors are accepted (GoBGP's default). Passive sessions never dial,
//     which avoids GoBGP's 5 s idle after a connection collision: make the
//     hub passive. ConnectRetry defaults to 1 s; GoBGP dials the first time
//     after a random 1–2 s, so a session needs about 1–2 s to come up.
//   - Announcements: Originate is added to the global RIB with next hop
//     0.0.0.0 or ::, which GoBGP replaces with the session's local address.
//     An export policy lets out only locally originated paths, so nothing
//     learned over one tunnel is re-advertised over another.
//   - Import filter: a global import policy accepts local paths and the
//     exact Accept prefixes (one prefix set per family), default reject. A
//     change builds a new generation of sets and policy, switches the
//     assignment in one call, deletes the old one and soft-resets peers in.
//   - Routes: ListPath on each established peer's Adj-RIB-In with
//     EnableFiltered, which re-runs the current import policy and marks the
//     paths it rejects; those, and paths with our own ASN in the AS path
//     (GoBGP keeps them in the Adj-RIB-In unmarked), are left out. The
//     global RIB is not used: its listing does not give the multipath set.
//     Verified by the tests against GoBGP v3.37.
//   - Changes: WatchEvent with peer-state events and best-path events
//     (Init true, UseMultiplePaths on so a change of the equal-cost set is
//     reported, not just of the best path); the callback only does a
//     non-blocking send on a channel of capacity one.
//   - Max prefixes: GoBGP's per-family prefix limit counts received
//     prefixes before the filter; past it GoBGP sends a CEASE and keeps the
//     session down (admin state PFX_CT) until Apply re-creates the peer with
//     other settings or the speaker restarts. PeerState.LastError says
//     "max-prefix N exceeded". Other LastError values are GoBGP's reason
//     for the last drop, which it reports only in its "Peer Down" log line:
//     the log adapter passes it on.
//   - Logs: GoBGP's logger is adapted onto the injected *slog.Logger with
//     our keys (peer, err, topic); its info lines go to debug, and the
//     speaker logs peer state changes at info itself.
//   - Stop: StopBgp de-configures every neighbor with a CEASE
//     NOTIFICATION, so the far side withdraws at once instead of waiting
//     for its hold timer. GoBGP v3 cannot end its Serve goroutine; the
//     speaker ends it through GoBGP's timing hook (runtime.Goexit after a
//     last management operation), so a stopped speaker leaves no goroutine
//     behind. Two package-level variables of GoBGP (route selection options
//     and multipath) are shared by all servers in the process; every
//     speaker sets them the same.
package bgp
