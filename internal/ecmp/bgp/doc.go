// Package bgp is the BGP speaker: an embedded GoBGP v3 server, configured
// from one Config, that keeps one eBGP session per tunnel and family,
// announces the originated prefixes and filters what it accepts. It never
// touches the kernel (no zebra): the ECMP reconciler takes Changes as a
// trigger, then reads Peers and Routes and computes the FIB itself.
//
//	s := bgp.New(log)
//	err := s.Start(ctx, cfg)     // validate (errors wrap ErrConfig), listen, add peers
//	err = s.Apply(ctx, newCfg)   // reload: only what changed is touched
//	<-s.Changes()                // coalesced trigger (capacity 1)
//	routes, err := s.Routes(ctx) // prefix -> one Path{Peer, NextHop} per established session
//	peers := s.Peers(ctx)        // state, since, received/accepted, last error
//	err = s.Stop(ctx)            // CEASE to every peer: the far side withdraws at once
//
// # How GoBGP is used
//
//   - Sessions: one neighbor per Peer, keyed by neighbor address; it carries
//     ipv4-unicast or ipv6-unicast by the neighbor's family, so a prefix is
//     announced only to peers of its family. GTSM is on (TTL 255, minimum
//     255, RFC 5082): the far side must enable it too. Only configured
//     neighbors are accepted (GoBGP's default). Passive sessions never
//     dial, which avoids GoBGP's 5 s idle after a connection collision:
//     make the hub passive.
//   - Multipath TCP: since Go 1.24 listeners default to MPTCP, on which
//     Linux refuses IP_TTL; GoBGP's listener then answers with TTL 64 and
//     the dialing side's GTSM drops it: sessions time out silently. Start
//     refuses to listen in that case (ErrMPTCPListener): the binary needs
//     `godebug multipathtcp=0` (go.mod) or `//go:debug multipathtcp=0`
//     (package main; the tests have it).
//   - Timing: ConnectRetry defaults to 1 s (GoBGP's 120 s would leave a
//     restarted hub unreached for minutes). GoBGP v3 also waited a random
//     1–2 s before a new peer's first dial; it is built from
//     third_party/gobgp, whose one patch dials at once, so a session is up
//     within milliseconds when the far end listens; retries still wait
//     ConnectRetry plus up to as much again.
//     After a drop GoBGP holds the peer idle for a fixed 5 s, refusing
//     connections; the speaker re-creates a peer that just lost its
//     session, so it dials again at once as well (not for a peer stopped by its
//     prefix limit, which would flap).
//   - Announcements: Originate is added to the global RIB with next hop
//     0.0.0.0 or ::, which GoBGP replaces with the session's local address.
//     An export policy lets out only locally originated paths, so nothing
//     learned over one tunnel is re-advertised over another.
//   - Import filter: a global import policy accepts local paths (GoBGP
//     runs import policy on them too) and the exact Accept prefixes (one
//     prefix set per family), default reject. A change builds a new
//     generation of sets and policy, switches the assignment in one call,
//     deletes the old one and soft-resets peers in.
//   - Routes: ListPath on the global RIB of each family. It holds every
//     path that passed the import policy from every peer, not only the best
//     (the DESIGN's concern was the Best marks, which Routes ignores), and
//     listing it is read-only. ListPath on a peer's Adj-RIB-In with
//     EnableFiltered does mark rejected paths in v3.37 (TestAdjInEnableFiltered)
//     but works by re-inserting paths into the live Adj-RIB-In, which races
//     with GoBGP's own event watcher under -race; it is not used.
//   - Changes: WatchEvent with peer-state events and best-path events
//     (Init true, UseMultiplePaths on so a change of the equal-cost set is
//     reported, not just of the best path); the callback only does a
//     non-blocking send on a channel of capacity one.
//   - Max prefixes: GoBGP's per-family prefix limit counts received
//     prefixes before the filter; past it GoBGP sends a CEASE and keeps the
//     session down (admin state PFX_CT); GoBGP v3 has no restart timer, so
//     the speaker re-creates the peer after MaxPrefixRestart (zero: it
//     stays down until Apply changes that peer or the speaker restarts).
//     PeerState.LastError says
//     "max-prefix N exceeded". Other LastError values are GoBGP's reason
//     for the last drop ("hold-timer-expired", "notification-received
//     cease/..."), which it reports only in its "Peer Down" log line: the
//     log adapter passes it on.
//   - Logs: GoBGP's logger is adapted onto the injected *slog.Logger with
//     our keys (peer, err, topic, prefix); its info lines go to debug, and
//     the speaker logs peer state changes at info itself.
//   - Stop: StopBgp de-configures every neighbor with a CEASE
//     NOTIFICATION, so the far side withdraws at once instead of waiting
//     for its hold timer (measured on loopback: about 1 ms). GoBGP v3
//     cannot end its Serve goroutine; the speaker ends it through GoBGP's
//     timing hook (runtime.Goexit after a last management operation), so a
//     stopped speaker leaves no goroutine behind (TestStopLeavesNoGoroutines).
//   - TCP-MD5: Config.Password is GoBGP's AuthPassword on every peer; GoBGP
//     sets TCP_MD5SIG on the dialing socket and, for passive peers, on the
//     listener per neighbor address. A changed password re-creates the
//     sessions. It is never logged.
//   - Globals: StartBgp writes two package variables of GoBGP (route
//     selection options, multipath) that every server in the process reads
//     on its own goroutine. globalsGate (globals.go) runs each StartBgp
//     with every other server parked in its timing hook and no ListPath in
//     progress, so the routing speaker and the announcer (and the tests'
//     many servers) can share the process; `go test -race` passes.
//
// # Announcer
//
// A second, separate use: Announcer announces one large prefix set (the
// breakout prefixes, up to a million) with an explicit next hop per family
// (the breakout gateway; IPv6 in MP_REACH_NLRI) to receiving peers such as
// the LAN router: the job exabgp did.
//
//	a := bgp.NewAnnouncer(log)
//	err := a.Start(ctx, bgp.AnnouncerConfig{ASN, RouterID, Peers})  // dials, never listens
//	added, withdrawn, err := a.Set(ctx, prefixes, gw4, gw6)       // diff only
//	err = a.Withdraw(ctx)                                          // gateway down
//	st := a.Status(ctx)                                            // sessions, counts, last Set
//	err = a.Stop(ctx)
//
// How it uses GoBGP, and why:
//
//   - Sessions carry ipv4-unicast and ipv6-unicast whatever the neighbor's
//     family, without GTSM (a LAN router sends TTL 1). Nothing is accepted;
//     only local paths are exported.
//   - Paths go in as lists of 2000 through AddPathList (a GoBGP patch; upstream
//     has a batched way in only through gRPC), in GoBGP's binary form.
//     AddPath per path was three times slower and kept a UUID per path.
//   - Upstream GoBGP sends each path added while a session is up as its own
//     UPDATE. Patched, it hands a session each local list whole, which the
//     session packs into full UPDATEs (about 800 IPv4 prefixes in one), so
//     a Set goes out packed while the next list is added, announcements
//     and withdrawals alike (announce_list.go): the 998 k table to BIRD in
//     about 13 s, where holding export and sending it by one soft reset out
//     took 24 s and twice the memory.
//   - Withdrawing everything restarts the server instead: the receivers
//     drop the routes at the CEASE, the RIB and its memory go at once (GoBGP
//     took 20 s to delete a million paths), and the sessions come back
//     empty at once.
//   - Hold time 90 s by default: GoBGP packs the whole table for a session
//     before it writes anything, keepalives included; with 9 s BIRD ended
//     the session during the 998 k table, again at every retry.
//   - Memory: GoBGP's RIB, patched, holds about 400 B in 7 heap objects per
//     prefix (TestAnnouncedPathMemory); the Go heap peaks near 1.5 times the
//     live heap at the daemon's GOGC of 50 unless a memory limit is set
//     (GOMEMLIMIT).
package bgp
