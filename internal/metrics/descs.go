package metrics

import "github.com/prometheus/client_golang/prometheus"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("uplinkd_"+name, help, labels, nil)
}

// Daemon-wide.
var (
	descBuildInfo      = desc("build_info", "Always 1; the labels name the running binary.", "version", "revision", "goversion")
	descInfo           = desc("info", "Always 1; the labels name this site and its role (edge or hub).", "role", "site")
	descReloaded       = desc("last_reload_timestamp_seconds", "When the config was last reloaded (SIGHUP), as a Unix time; absent before the first reload.")
	descReconcileError = desc("reconcile_error", "1 while that part's last reconcile or reload failed (see `uplinkd status` for the error), else 0.", "part")
	descRepairs        = desc("repairs_total", "Kernel objects a part's timed read-back found changed outside uplinkd (deleted, altered, left behind) and put right, since the daemon started.", "part")
	descReadBack       = desc("readback_last_timestamp_seconds", "When the part last read its kernel state back, as a Unix time.", "part")
)

// NAT and forwarding.
var (
	descNATRules   = desc("nat_rules", "Masquerade rules wanted in nftables table inet uplinkd.")
	descForwarding = desc("forwarding_enabled", "1 if IPv4 and IPv6 forwarding were on at the last read-back, else 0.")
)

// WireGuard tunnels.
var (
	tunnelLabels        = []string{"uplink", "tunnel"}
	descTunnelUp        = desc("tunnel_up", "1 if the tunnel's last handshake is at most 180 s old (WireGuard's reject-after time), else 0.", "uplink", "tunnel", "impl")
	descTunnelHandshake = desc("tunnel_handshake_age_seconds", "Seconds since the tunnel's last handshake; absent if it never had one.", tunnelLabels...)
	descTunnelRx        = desc("tunnel_rx_bytes_total", "Bytes received on the tunnel (resets when the interface is re-created).", tunnelLabels...)
	descTunnelTx        = desc("tunnel_tx_bytes_total", "Bytes sent on the tunnel (resets when the interface is re-created).", tunnelLabels...)
	descTunnelError     = desc("tunnel_error", "1 while the tunnel's last configuration failed, else 0.", tunnelLabels...)
)

// ECMP, BFD and BGP.
var (
	descBFDUp          = desc("bfd_up", "1 if the uplink's BFD session is Up, else 0; absent when BFD is off.", "uplink")
	descBFDDetect      = desc("bfd_detect_seconds", "The uplink's negotiated BFD detection time.", "uplink")
	descBFDProbes      = desc("bfd_probes_total", "Frugal liveness: fast Polls sent for traffic that went unanswered or a peer gone quiet.", "uplink")
	descBFDProbeDowns  = desc("bfd_probe_downs_total", "Frugal liveness: probes nothing answered, which took the uplink's BFD Down.", "uplink")
	descECMPMember     = desc("ecmp_member", "1 if the uplink is a next hop of the installed ECMP routes, else 0.", "uplink")
	descECMPWeight     = desc("ecmp_weight", "The uplink's configured ECMP weight.", "uplink")
	descECMPHeld       = desc("ecmp_held", "1 while the uplink is held out of the ECMP set after a flap (hold-down), else 0.", "uplink")
	descBGPEstablished = desc("bgp_session_established", "1 if the BGP session is established, else 0.", "uplink", "peer", "family")
	descBGPReceived    = desc("bgp_prefixes_received", "Prefixes the BGP session received, before the import filter.", "uplink", "peer", "family")
	descBGPAccepted    = desc("bgp_prefixes_accepted", "Prefixes of the BGP session that passed the import filter.", "uplink", "peer", "family")
	descFIBRoutes      = desc("fib_ecmp_routes", "ECMP routes installed in the kernel.")
	descFIBChanges     = desc("fib_changes_total", "Changes uplinkd made to the ECMP routes since it started.")
	descFailover       = desc("failover_last_seconds", "Time from detecting the failure of an uplink to the FIB without it, for the last failover; the label names that uplink.", "uplink")
	descFailoverAt     = desc("failover_last_timestamp_seconds", "When the last failover was detected, as a Unix time.", "uplink")
	descHubCarrying    = desc("hub_carries_traffic", "1 if a tunnel to the hub is a next hop of the installed ECMP routes, else 0.", "hub")
	descHubAlive       = desc("hub_tunnels_alive", "Tunnels to the hub that are alive (BFD up, past the hold-down).", "hub")
	descSiteRefused    = desc("edge_site_prefixes_refused", "Prefixes the edge site's sessions announced that its import filter refused.", "site")
	descLastResort     = desc("last_resort_active", "1 while the default routes go through the last resort (no tunnel of any hub alive), else 0.", "via")
	descLastResortAt   = desc("last_resort_change_timestamp_seconds", "When the last resort last became active or inactive, as a Unix time.", "via")
	descFIBWriteErrors = desc("fib_write_errors_total", "ECMP route writes the kernel refused (retried by the next reconcile).")
	descBFDRebinds     = desc("bfd_rebinds_total", "BFD sessions re-created because their tunnel interface was re-created.")
	descPublishedConns = desc("published_connections_total", "New connections let in to the published service.", "service")
	descInboundDropped = desc("inbound_dropped_packets_total", "Packets the inbound firewall dropped as uninvited.")
	descInboundRepairs = desc("inbound_repairs_total", "Times a read-back found the inbound table changed outside uplinkd and rebuilt it.")
)

// Breakout.
var (
	descSourcePrefixes    = desc("breakout_source_prefixes", "Entries in the source's last good set.", "source")
	descSourceLastSuccess = desc("breakout_source_last_success_timestamp_seconds", "When the source was last fetched successfully, as a Unix time; absent if never.", "source")
	descSourceStale       = desc("breakout_source_stale", "1 if the source's latest refresh failed and its last good set is in use, else 0.", "source")
	descRoutesInstalled   = desc("breakout_routes_installed", "Breakout routes in the kernel table after the last install.")
	descRoutesDesired     = desc("breakout_routes_desired", "Prefixes of the latest compiled breakout set (more than installed while an update is refused).")
	descRejected          = desc("breakout_rejected", "Source entries the guards refused in the latest compile, by reason.", "source", "reason")
	descActive            = desc("breakout_active", "1 while the breakout policy rule is in, so breakout routes carry traffic, else 0.")
	descChurnBlocked      = desc("breakout_churn_blocked", "1 while the latest install would withdraw more of the installed set than max_churn_percent allows and waits for `uplinkd breakout accept --all`, else 0.")
	descSourceHeld        = desc("breakout_source_held", "1 while the source holds a fetched update the guards refused (its last good set stays installed until `uplinkd breakout accept`), else 0.", "source")
	descGatewayUp         = desc("breakout_gateway_up", "1 if the breakout gateway answers its probes, else 0; absent when probing is off.")
	descGatewayRTT        = desc("breakout_gateway_rtt_seconds", "Round-trip time of the last answered probe to the breakout gateway.")
	descInstall           = desc("breakout_install_seconds", "Duration of the last install of the breakout table.")
	descCompile           = desc("breakout_compile_seconds", "Duration of the last compile of the breakout set.")
)

var allDescs = []*prometheus.Desc{
	descBuildInfo, descInfo, descReloaded, descReconcileError, descRepairs, descReadBack,
	descNATRules, descForwarding,
	descTunnelUp, descTunnelHandshake, descTunnelRx, descTunnelTx, descTunnelError,
	descBFDUp, descBFDDetect, descBFDProbes, descBFDProbeDowns, descECMPMember, descECMPWeight, descECMPHeld,
	descBGPEstablished, descBGPReceived, descBGPAccepted,
	descFIBRoutes, descFIBChanges, descFailover, descFailoverAt,
	descPublishedConns, descInboundDropped, descInboundRepairs,
	descHubCarrying, descHubAlive, descSiteRefused, descLastResort, descLastResortAt, descFIBWriteErrors, descBFDRebinds,
	descSourcePrefixes, descSourceLastSuccess, descSourceStale, descSourceHeld,
	descRoutesInstalled, descRoutesDesired, descRejected, descActive, descChurnBlocked,
	descGatewayUp, descGatewayRTT, descInstall, descCompile,
	descBudgetUsed, descBudgetBytes, descBudgetProjected, descBudgetState, descBudgetPeriodEnd, descBudgetSaved,
	descSLARTT, descSLAJitter, descSLALoss, descSLARate, descSLAGoodput, descSLADegraded, descSLAJudging,
}
