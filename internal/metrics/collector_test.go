package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/engine"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/budget"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/nat"
	"github.com/uplinkd/uplinkd/internal/sla"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// now is the scrape time of every test; whole seconds keep the expected
// timestamps exact in float64.
var now = time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)

// edgeTunnels: docomo fresh, softbank past WireGuard's 180 s, rakuten
// never shook hands and failed to configure.
func edgeTunnels() []wg.TunnelStatus {
	return []wg.TunnelStatus{
		{Name: "wg-docomo", Uplink: "docomo", Impl: "kernel", LastHandshake: now.Add(-25 * time.Second), RxBytes: 123456789, TxBytes: 98765},
		{Name: "wg-softbank", Uplink: "softbank", Impl: "kernel", LastHandshake: now.Add(-181 * time.Second), RxBytes: 10, TxBytes: 20},
		{Name: "wg-rakuten", Uplink: "rakuten", Impl: "userspace", Error: "create wg-rakuten: operation not permitted"},
	}
}

func edgeECMP() *ecmp.Status {
	peer := func(name, family string, up bool, rx, acc uint32) bgp.PeerState {
		return bgp.PeerState{Name: name, Address: netip.MustParseAddr("169.254.0.1"), Family: family, Established: up, Received: rx, Accepted: acc}
	}
	return &ecmp.Status{
		Mode: "resilient", Table: 100, Changes: 7,
		Links: []ecmp.LinkStatus{
			{Name: "docomo", Interface: "wg-docomo", Weight: 3, BFD: "Up", BFDDetect: 300 * time.Millisecond, InECMP: true,
				BFDMode: "frugal idle", BFDProbes: 4, BFDProbeDowns: 1,
				BGP: []bgp.PeerState{peer("docomo", "ipv4-unicast", true, 2, 1), peer("docomo-v6", "ipv6-unicast", true, 1, 1)}},
			{Name: "softbank", Interface: "wg-softbank", Weight: 2, BFD: "Down", BFDDetect: 900 * time.Millisecond, HeldUntil: now.Add(20 * time.Second),
				BGP: []bgp.PeerState{peer("softbank", "ipv4-unicast", false, 0, 0)}},
			{Name: "rakuten", Interface: "wg-rakuten", Weight: 1, BFD: "off"},
		},
		Routes: []ecmp.RouteStatus{
			{Prefix: "0.0.0.0/0", NextHops: []ecmp.NextHop{{Link: "docomo", Via: "169.254.0.1", Weight: 3}}},
			{Prefix: "::/0", NextHops: []ecmp.NextHop{{Link: "docomo", Via: "fe80::1", Weight: 3}}},
		},
		Failover: &ecmp.Failover{Link: "softbank", Detected: now.Add(-time.Minute), FIBDone: now.Add(-time.Minute + 850*time.Millisecond)},
		Error:    "replace route ::/0: no such device",
		Hubs: []ecmp.GroupStatus{{Name: "tokyo", Preference: 100, Tunnels: []string{"docomo", "softbank", "rakuten"}, Alive: 1, InECMP: 1, Carrying: true},
			{Name: "osaka", Preference: 50, Tunnels: []string{"docomo@osaka"}}},
		Sites:      []ecmp.GroupStatus{{Name: "office", Tunnels: []string{"docomo@office"}, Refused: 2}},
		LastResort: &ecmp.LastResortStatus{Via: "breakout", Since: now.Add(-2 * time.Hour)},
	}
}

func edgeBreakout() *engine.Status {
	return &engine.Status{
		Sources: []engine.SourceStatus{
			{Name: "aws-ec2-tokyo", Kind: feed.KindAWS, Prefixes: 412, LastSuccess: now.Add(-time.Hour), Held: true, HeldReason: "update of source aws-ec2-tokyo held: …"},
			{Name: "netflix", Kind: "asn", Prefixes: 77, LastSuccess: now.Add(-49 * time.Hour), Stale: true, LastError: "fetch: 503"},
			{Name: "never", Kind: "static"},
		},
		Compile: engine.CompileStatus{
			Desired: 480, Installed: 470, RulePresent: true,
			Rejected: []engine.RejectCount{
				{Source: "aws-ec2-tokyo", Reason: breakout.ReasonDefault, Count: 1},
				{Source: "netflix", Reason: breakout.ReasonProtected, Count: 2},
			},
			LastCompile: now.Add(-time.Hour), CompileTook: 40 * time.Millisecond,
			LastInstall: now.Add(-time.Hour), InstallTook: 250 * time.Millisecond,
		},
		Gateway:  engine.GatewayStatus{Addr: netip.MustParseAddr("192.168.1.1"), Probing: true, Healthy: true, LastRTT: 3 * time.Millisecond},
		ReadBack: engine.ReadBackStatus{IntervalSeconds: 30, RuleRepairs: 2, RouteRepairs: 5},
	}
}

func edgeStatus() api.Status {
	return api.Status{Role: "edge", Site: "home", Tunnels: edgeTunnels(), ECMP: edgeECMP(), Breakout: edgeBreakout(),
		NAT: natRepaired(), Reloaded: now.Add(-10 * time.Minute),
		Inbound: &api.Inbound{Table: "uplinkd_inbound", Repairs: 1, DroppedPackets: 42,
			Published: []api.Published{{Name: "https", Protocol: "tcp", Ports: "443", To: "198.18.10.2:443", Connections: 7}}},
		Budgets: edgeBudgets(), SLA: edgeSLA()}
}

// edgeSLA: docomo full at 118 kbit/s and out for it; softbank down.
func edgeSLA() []sla.LinkStatus {
	return []sla.LinkStatus{
		{Link: "docomo", Judging: true, Samples: 10, RTTMs: 250, JitterMs: 20, LossPercent: 10, RateKbps: 121.5,
			GoodputKbps: 118, LoadedSamples: 8, Degraded: true, Reason: "goodput 118 kbit/s < 1000 kbit/s under load for 6 s"},
		{Link: "softbank", Samples: 3, RTTMs: 40},
	}
}

func slaSeries() map[string]float64 {
	return map[string]float64{
		`uplinkd_sla_rtt_seconds{link="docomo"}`:              0.25,
		`uplinkd_sla_rtt_seconds{link="softbank"}`:            0.04,
		`uplinkd_sla_jitter_seconds{link="docomo"}`:           0.02,
		`uplinkd_sla_jitter_seconds{link="softbank"}`:         0,
		`uplinkd_sla_loss_ratio{link="docomo"}`:               0.1,
		`uplinkd_sla_loss_ratio{link="softbank"}`:             0,
		`uplinkd_sla_rate_bytes_per_second{link="docomo"}`:    15187.5,
		`uplinkd_sla_rate_bytes_per_second{link="softbank"}`:  0,
		`uplinkd_sla_goodput_bytes_per_second{link="docomo"}`: 14750,
		`uplinkd_sla_degraded{link="docomo"}`:                 1,
		`uplinkd_sla_degraded{link="softbank"}`:               0,
		`uplinkd_sla_judging{link="docomo"}`:                  1,
		`uplinkd_sla_judging{link="softbank"}`:                0,
	}
}

// edgeBudgets: docomo past its soft limit, saved a minute ago; softbank
// counted for under an hour (no projection) and never saved.
func edgeBudgets() []budget.Status {
	return []budget.Status{
		{Uplink: "docomo", UsedBytes: 850e6, BudgetBytes: 1e9, ProjectedBytes: 8783333333, State: budget.Soft,
			PeriodEnd: now.Add(25 * 24 * time.Hour), Saved: now.Add(-time.Minute)},
		{Uplink: "softbank", UsedBytes: 1e6, BudgetBytes: 30e9, State: budget.OK, PeriodEnd: now.Add(time.Hour)},
	}
}

func budgetSeries() map[string]float64 {
	return map[string]float64{
		`uplinkd_uplink_budget_used_bytes{uplink="docomo"}`:                     850e6,
		`uplinkd_uplink_budget_used_bytes{uplink="softbank"}`:                   1e6,
		`uplinkd_uplink_budget_bytes{uplink="docomo"}`:                          1e9,
		`uplinkd_uplink_budget_bytes{uplink="softbank"}`:                        30e9,
		`uplinkd_uplink_budget_projected_bytes{uplink="docomo"}`:                8783333333,
		`uplinkd_uplink_budget_state{state="ok",uplink="docomo"}`:               0,
		`uplinkd_uplink_budget_state{state="soft",uplink="docomo"}`:             1,
		`uplinkd_uplink_budget_state{state="hard",uplink="docomo"}`:             0,
		`uplinkd_uplink_budget_state{state="ok",uplink="softbank"}`:             1,
		`uplinkd_uplink_budget_state{state="soft",uplink="softbank"}`:           0,
		`uplinkd_uplink_budget_state{state="hard",uplink="softbank"}`:           0,
		`uplinkd_uplink_budget_period_end_timestamp_seconds{uplink="docomo"}`:   float64(now.Add(25 * 24 * time.Hour).Unix()),
		`uplinkd_uplink_budget_period_end_timestamp_seconds{uplink="softbank"}`: float64(now.Add(time.Hour).Unix()),
		`uplinkd_uplink_budget_saved_timestamp_seconds{uplink="docomo"}`:        float64(now.Add(-time.Minute).Unix()),
	}
}

// scrape serves st through Handler and parses the answer as Prometheus
// itself would.
func scrape(t *testing.T, st api.Status) map[string]*dto.MetricFamily {
	t.Helper()
	c := &collector{snapshot: func() api.Status { return st }, now: func() time.Time { return now }}
	srv := httptest.NewServer(Handler(c))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return mfs
}

// series flattens the uplinkd_ families to "name{k="v",…}" → value, except
// build_info whose labels depend on how the test binary was built.
func series(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "uplinkd_") || name == "uplinkd_build_info" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[name+labelString(m)] = value(mf.GetType(), m)
		}
	}
	return out
}

func labelString(m *dto.Metric) string {
	var kv []string
	for _, l := range m.GetLabel() {
		kv = append(kv, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	slices.Sort(kv)
	if len(kv) == 0 {
		return ""
	}
	return "{" + strings.Join(kv, ",") + "}"
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	if t == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// daemonAndTunnels are the series of edgeStatus without ECMP or breakout.
func daemonAndTunnels() map[string]float64 {
	return map[string]float64{
		`uplinkd_published_connections_total{service="https"}`:                         7,
		"uplinkd_inbound_dropped_packets_total":                                        42,
		"uplinkd_inbound_repairs_total":                                                1,
		`uplinkd_info{role="edge",site="home"}`:                                        1,
		`uplinkd_last_reload_timestamp_seconds`:                                        float64(now.Add(-10 * time.Minute).Unix()),
		`uplinkd_reconcile_error{part="daemon"}`:                                       0,
		`uplinkd_reconcile_error{part="wg"}`:                                           1,
		`uplinkd_tunnel_up{impl="kernel",tunnel="wg-docomo",uplink="docomo"}`:          1,
		`uplinkd_tunnel_up{impl="kernel",tunnel="wg-softbank",uplink="softbank"}`:      0,
		`uplinkd_tunnel_up{impl="userspace",tunnel="wg-rakuten",uplink="rakuten"}`:     0,
		`uplinkd_tunnel_handshake_age_seconds{tunnel="wg-docomo",uplink="docomo"}`:     25,
		`uplinkd_tunnel_handshake_age_seconds{tunnel="wg-softbank",uplink="softbank"}`: 181,
		`uplinkd_tunnel_rx_bytes_total{tunnel="wg-docomo",uplink="docomo"}`:            123456789,
		`uplinkd_tunnel_tx_bytes_total{tunnel="wg-docomo",uplink="docomo"}`:            98765,
		`uplinkd_tunnel_rx_bytes_total{tunnel="wg-softbank",uplink="softbank"}`:        10,
		`uplinkd_tunnel_tx_bytes_total{tunnel="wg-softbank",uplink="softbank"}`:        20,
		`uplinkd_tunnel_rx_bytes_total{tunnel="wg-rakuten",uplink="rakuten"}`:          0,
		`uplinkd_tunnel_tx_bytes_total{tunnel="wg-rakuten",uplink="rakuten"}`:          0,
		`uplinkd_tunnel_error{tunnel="wg-docomo",uplink="docomo"}`:                     0,
		`uplinkd_tunnel_error{tunnel="wg-softbank",uplink="softbank"}`:                 0,
		`uplinkd_tunnel_error{tunnel="wg-rakuten",uplink="rakuten"}`:                   1,
	}
}

func ecmpSeries() map[string]float64 {
	return map[string]float64{
		`uplinkd_reconcile_error{part="ecmp"}`:                         1,
		"uplinkd_fib_write_errors_total":                               0,
		`uplinkd_hub_carries_traffic{hub="tokyo"}`:                     1,
		`uplinkd_hub_carries_traffic{hub="osaka"}`:                     0,
		`uplinkd_hub_tunnels_alive{hub="tokyo"}`:                       1,
		`uplinkd_hub_tunnels_alive{hub="osaka"}`:                       0,
		`uplinkd_edge_site_prefixes_refused{site="office"}`:            2,
		`uplinkd_last_resort_active{via="breakout"}`:                   0,
		`uplinkd_last_resort_change_timestamp_seconds{via="breakout"}`: float64(now.Add(-2 * time.Hour).Unix()),
		"uplinkd_bfd_rebinds_total":                                    0,
		`uplinkd_ecmp_member{uplink="docomo"}`:                         1,
		`uplinkd_ecmp_member{uplink="softbank"}`:                       0,
		`uplinkd_ecmp_member{uplink="rakuten"}`:                        0,
		`uplinkd_ecmp_weight{uplink="docomo"}`:                         3,
		`uplinkd_ecmp_weight{uplink="softbank"}`:                       2,
		`uplinkd_ecmp_weight{uplink="rakuten"}`:                        1,
		`uplinkd_ecmp_held{uplink="docomo"}`:                           0,
		`uplinkd_ecmp_held{uplink="softbank"}`:                         1,
		`uplinkd_ecmp_held{uplink="rakuten"}`:                          0,
		// rakuten runs without BFD: no BFD series at all.
		`uplinkd_bfd_up{uplink="docomo"}`:               1,
		`uplinkd_bfd_up{uplink="softbank"}`:             0,
		`uplinkd_bfd_detect_seconds{uplink="docomo"}`:   0.3,
		`uplinkd_bfd_detect_seconds{uplink="softbank"}`: 0.9,
		// docomo is frugal: its probes are counted; softbank is not: none.
		`uplinkd_bfd_probes_total{uplink="docomo"}`:                                                4,
		`uplinkd_bfd_probe_downs_total{uplink="docomo"}`:                                           1,
		`uplinkd_bgp_session_established{family="ipv4-unicast",peer="docomo",uplink="docomo"}`:     1,
		`uplinkd_bgp_session_established{family="ipv6-unicast",peer="docomo-v6",uplink="docomo"}`:  1,
		`uplinkd_bgp_session_established{family="ipv4-unicast",peer="softbank",uplink="softbank"}`: 0,
		`uplinkd_bgp_prefixes_received{family="ipv4-unicast",peer="docomo",uplink="docomo"}`:       2,
		`uplinkd_bgp_prefixes_received{family="ipv6-unicast",peer="docomo-v6",uplink="docomo"}`:    1,
		`uplinkd_bgp_prefixes_received{family="ipv4-unicast",peer="softbank",uplink="softbank"}`:   0,
		`uplinkd_bgp_prefixes_accepted{family="ipv4-unicast",peer="docomo",uplink="docomo"}`:       1,
		`uplinkd_bgp_prefixes_accepted{family="ipv6-unicast",peer="docomo-v6",uplink="docomo"}`:    1,
		`uplinkd_bgp_prefixes_accepted{family="ipv4-unicast",peer="softbank",uplink="softbank"}`:   0,
		`uplinkd_fib_ecmp_routes`:                                    2,
		`uplinkd_fib_changes_total`:                                  7,
		`uplinkd_failover_last_seconds{uplink="softbank"}`:           0.85,
		`uplinkd_failover_last_timestamp_seconds{uplink="softbank"}`: float64(now.Add(-time.Minute).Unix()),
	}
}

func breakoutSeries() map[string]float64 {
	return map[string]float64{
		`uplinkd_reconcile_error{part="breakout"}`:                                       0,
		`uplinkd_reconcile_error{part="breakout_rule"}`:                                  0,
		`uplinkd_breakout_source_prefixes{source="aws-ec2-tokyo"}`:                       412,
		`uplinkd_breakout_source_prefixes{source="netflix"}`:                             77,
		`uplinkd_breakout_source_prefixes{source="never"}`:                               0,
		`uplinkd_breakout_source_last_success_timestamp_seconds{source="aws-ec2-tokyo"}`: float64(now.Add(-time.Hour).Unix()),
		`uplinkd_breakout_source_last_success_timestamp_seconds{source="netflix"}`:       float64(now.Add(-49 * time.Hour).Unix()),
		`uplinkd_breakout_source_stale{source="aws-ec2-tokyo"}`:                          0,
		`uplinkd_breakout_source_stale{source="netflix"}`:                                1,
		`uplinkd_breakout_source_stale{source="never"}`:                                  0,
		`uplinkd_breakout_source_held{source="aws-ec2-tokyo"}`:                           1,
		`uplinkd_breakout_source_held{source="netflix"}`:                                 0,
		`uplinkd_breakout_source_held{source="never"}`:                                   0,
		`uplinkd_repairs_total{part="breakout_rule"}`:                                    2,
		`uplinkd_repairs_total{part="breakout_routes"}`:                                  5,
		`uplinkd_breakout_routes_installed`:                                              470,
		`uplinkd_breakout_routes_desired`:                                                480,
		`uplinkd_breakout_rejected{reason="default route",source="aws-ec2-tokyo"}`:       1,
		`uplinkd_breakout_rejected{reason="overlaps protected",source="netflix"}`:        2,
		`uplinkd_breakout_active`:                                                        1,
		`uplinkd_breakout_churn_blocked`:                                                 0,
		`uplinkd_breakout_gateway_up`:                                                    1,
		`uplinkd_breakout_gateway_rtt_seconds`:                                           0.003,
		`uplinkd_breakout_install_seconds`:                                               0.25,
		`uplinkd_breakout_compile_seconds`:                                               0.04,
	}
}

// natRepaired has its table rewritten twice by the read-back, forwarding on.
func natRepaired() *nat.Status {
	return &nat.Status{Rules: 3, Forwarding: true, CheckedAt: now.Add(-5 * time.Second),
		Repairs: 2, LastRepair: now.Add(-time.Minute), LastRepairWhat: "nftables table uplinkd written"}
}

func natSeries() map[string]float64 {
	return map[string]float64{
		`uplinkd_repairs_total{part="nat"}`:                   2,
		`uplinkd_readback_last_timestamp_seconds{part="nat"}`: float64(now.Add(-5 * time.Second).Unix()),
		`uplinkd_nat_rules`:                                   3,
		`uplinkd_forwarding_enabled`:                          1,
		`uplinkd_reconcile_error{part="nat"}`:                 0,
	}
}

func merge(ms ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestScrape(t *testing.T) {
	withoutParts := edgeStatus()
	withoutParts.ECMP, withoutParts.Breakout, withoutParts.NAT, withoutParts.Budgets, withoutParts.SLA = nil, nil, nil, nil, nil
	withNAT := withoutParts
	withNAT.NAT = natRepaired()
	for _, tc := range []struct {
		name string
		st   api.Status
		want map[string]float64
	}{
		{"edge with ECMP, breakout and NAT", edgeStatus(), merge(daemonAndTunnels(), ecmpSeries(), breakoutSeries(), natSeries(), budgetSeries(), slaSeries())},
		{"without ECMP and breakout", withoutParts, daemonAndTunnels()},
		{"with NAT repaired by the read-back", withNAT, merge(daemonAndTunnels(), natSeries())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mfs := scrape(t, tc.st)
			if diff := cmp.Diff(tc.want, series(mfs)); diff != "" {
				t.Errorf("uplinkd series (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScrapeTypesAndHelp(t *testing.T) {
	mfs := scrape(t, edgeStatus())
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "uplinkd_") {
			continue
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
		wantType := dto.MetricType_GAUGE
		if strings.HasSuffix(name, "_total") {
			wantType = dto.MetricType_COUNTER
		}
		if mf.GetType() != wantType {
			t.Errorf("%s is a %v, want %v", name, mf.GetType(), wantType)
		}
	}
	bi := mfs["uplinkd_build_info"]
	if len(bi.GetMetric()) != 1 || bi.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("uplinkd_build_info = %v, want one series of value 1", bi)
	}
	// The handler adds the runtime's and the process's own metrics.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if mfs[name] == nil {
			t.Errorf("%s missing from the scrape", name)
		}
	}
}

// TestEverySeriesIsDescribed: Describe must list every metric Collect can
// emit, or the registry fails the scrape; the full status exercises all.
func TestEverySeriesIsDescribed(t *testing.T) {
	mfs := scrape(t, edgeStatus())
	for _, d := range allDescs {
		name := descName(d)
		if mfs[name] == nil {
			t.Errorf("%s described but not emitted by a full status", name)
		}
	}
}

func descName(d interface{ String() string }) string {
	s := d.String()
	s = s[strings.Index(s, `fqName: "`)+len(`fqName: "`):]
	return s[:strings.Index(s, `"`)]
}

func TestLint(t *testing.T) {
	c := &collector{snapshot: edgeStatus, now: func() time.Time { return now }}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

// TestNoStateBetweenScrapes: a source removed by a reload disappears from
// the next scrape instead of lingering at its last value.
func TestNoStateBetweenScrapes(t *testing.T) {
	st := edgeStatus()
	first := series(scrape(t, st))
	st.Breakout.Sources = st.Breakout.Sources[:1]
	second := series(scrape(t, st))
	const gone = `uplinkd_breakout_source_prefixes{source="netflix"}`
	if _, ok := first[gone]; !ok {
		t.Fatalf("%s missing from the first scrape", gone)
	}
	if v, ok := second[gone]; ok {
		t.Errorf("%s = %v after its source was removed, want absent", gone, v)
	}
}
