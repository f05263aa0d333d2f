package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/engine"
	"github.com/uplinkd/uplinkd/internal/budget"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/nat"
	"github.com/uplinkd/uplinkd/internal/sla"
	"github.com/uplinkd/uplinkd/internal/wg"
)

var update = flag.Bool("update", false, "rewrite testdata/status.golden.json from the fixture")

const goldenPath = "testdata/status.golden.json"

// fullStatus is a status with every field of every struct set (checked by
// TestFixtureIsFull), so that the golden file shows the whole schema.
func fullStatus() Status {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	v4, v6 := netip.MustParseAddr("198.18.100.1"), netip.MustParseAddr("2001:db8:100::1")
	peer := func(name string, a netip.Addr, fam string) bgp.PeerState {
		return bgp.PeerState{Name: name, Address: a, Family: fam, State: "established", Established: true,
			Since: at(-time.Hour), Received: 2, Accepted: 1, LastError: "hold-timer-expired",
			Note: "no OPEN from peer: GTSM mismatch"}
	}
	group := func(name string) ecmp.GroupStatus {
		return ecmp.GroupStatus{Name: name, Preference: 100, Tunnels: []string{"docomo"}, Alive: 1, InECMP: 1, Carrying: true, Refused: 1}
	}
	return Status{
		SchemaVersion: SchemaVersion, Role: "edge", Site: "home", Started: at(-2 * time.Hour),
		Config: "/etc/uplinkd/uplinkd.toml", LastErr: "reload refused: x", Reloaded: at(-time.Hour),
		Tunnels: []wg.TunnelStatus{{Name: "wg-docomo", Uplink: "docomo", Hub: "tokyo", Site: "home",
			Impl: "kernel", ListenPort: 51820, FwMark: 0x100, Endpoint: "203.0.113.1:51820",
			LastHandshake: at(-30 * time.Second), RxBytes: 1000, TxBytes: 2000, RxRate: 10.5, TxRate: 20.25,
			Error: "configure tunnel wg-docomo: x"}},
		ECMP: &ecmp.Status{Mode: "resilient", Table: 6000, Changes: 7, Error: "x", WriteErrors: 1, BFDRebinds: 1,
			Links: []ecmp.LinkStatus{{Name: "docomo", Interface: "wg-docomo", Hub: "tokyo", Site: "home", Weight: 3,
				BFD: "Up", BFDDetect: 300 * time.Millisecond, BFDMode: "frugal idle", BFDProbes: 12, BFDProbeDowns: 1, BFDNote: "peer administratively down",
				BudgetLimit: "soft", BudgetWeight: 1, SLANote: "sla: loss 23 % > 10 % for 12 s; kept only as a last resort",
				HeldUntil: at(3 * time.Second), InECMP: true,
				BGP: []bgp.PeerState{peer("docomo-v4", v4, "ipv4-unicast"), peer("docomo-v6", v6, "ipv6-unicast")}}},
			Routes: []ecmp.RouteStatus{{Prefix: "0.0.0.0/0", Group: 1,
				NextHops: []ecmp.NextHop{{Link: "docomo", Via: "198.18.100.1", Weight: 3}}}},
			Failover: &ecmp.Failover{Link: "docomo", Detected: at(-time.Minute),
				FIBDone: at(-time.Minute + 241*time.Millisecond), Took: 241125 * time.Microsecond},
			Hubs: []ecmp.GroupStatus{group("tokyo")}, Sites: []ecmp.GroupStatus{group("home")},
			LastResort: &ecmp.LastResortStatus{Via: "lte0", Active: true, Since: at(-time.Minute),
				Prefixes: []string{"0.0.0.0/0"}, Error: "x"}},
		Breakout: &engine.Status{
			Sources: []engine.SourceStatus{{Name: "aws", Kind: "aws", Prefixes: 1000, LastSuccess: at(-time.Hour),
				Age: time.Hour, Stale: true, Restored: true, LastError: "fetch: x", NextRefresh: at(time.Hour),
				Held: true, HeldReason: "update held", HeldSince: at(-time.Minute), HeldPrefixes: 10}},
			Compile: engine.CompileStatus{Table: 6100, RulePriority: 6100, RulePresent: true, RuleError: "x",
				Desired: 1000, Installed: 999, Accepted: 1000,
				Rejected: []engine.RejectCount{{Source: "aws", Reason: breakout.ReasonDefault, Count: 1}},
				Rejections: []breakout.Rejection{{Entry: breakout.NewEntry(netip.MustParsePrefix("0.0.0.0/0"), 16509,
					breakout.Attrs{Source: "aws"}), Reason: breakout.ReasonDefault, Detail: "hub endpoint 203.0.113.1/32"}},
				LastCompile: at(-time.Hour), CompileTook: 40500 * time.Microsecond,
				LastInstall: at(-time.Hour), InstallTook: 250 * time.Millisecond,
				Added: 1, Replaced: 2, Deleted: 3, Unchanged: 4, ChurnBlocked: true, Pending: 5,
				LastError: "x", MarkerError: "x"},
			Gateway: engine.GatewayStatus{Addr: netip.MustParseAddr("192.168.8.1"), Probing: true, Healthy: true,
				Since: at(-time.Hour), LastRTT: 1500 * time.Microsecond, LastProbe: at(-time.Second), Misses: 1, LastError: "x"},
			Withdrawn: "withdrawn: gateway down",
			ReadBack: engine.ReadBackStatus{IntervalSeconds: 30, Last: at(-time.Second), RuleRepairs: 1, RouteRepairs: 2,
				LastRepair: at(-time.Minute), LastRepairWhat: "rule: x was missing", LastError: "x"},
			Warnings: []string{"hub endpoint does not resolve"},
		},
		Announce: &bgp.AnnouncerStatus{Running: true, IPv4: 1000, IPv6: 100, NextHop4: netip.MustParseAddr("192.168.8.2"),
			NextHop6: netip.MustParseAddr("2001:db8:8::2"), LastSet: at(-time.Hour), LastSetTook: 12 * time.Millisecond,
			LastAdded: 10, LastWithdrawn: 2, LastBulk: true, LastReset: true, LastError: "x",
			Peers: []bgp.AnnouncerPeer{{Name: "router", Address: netip.MustParseAddr("192.168.8.1"), State: "established",
				Established: true, Since: at(-time.Hour), LastError: "x", UpdatesSent: 3, Advertised4: 1000, Advertised6: 100}}},
		NAT: &nat.Status{Rules: 3, Forwarding: true, CheckedAt: at(-time.Second), Repairs: 1, LastRepair: at(-time.Minute),
			LastRepairWhat: "table rewritten", Error: "x"},
		Budgets: []budget.Status{{Uplink: "docomo", Interface: "wwan0", UsedBytes: 80 << 30, BudgetBytes: 100 << 30,
			UsedPercent: 80, SoftPercent: 80, HardPercent: 95, PeriodStart: at(-29 * 24 * time.Hour), PeriodEnd: at(24 * time.Hour),
			CountingSince: at(-29 * 24 * time.Hour), ProjectedBytes: 83 << 30, State: budget.Soft,
			Action: "soft limit 80 % reached: weight 3 → 1", Saved: at(-time.Minute), Error: "x"}},
		SLA: []sla.LinkStatus{{Link: "docomo", Target: netip.MustParseAddr("198.18.100.0"), Judging: true, Limits: true, Samples: 10,
			RTTMs: 42.5, JitterMs: 3.25, LossPercent: 23, RateKbps: 121.5, GoodputKbps: 118.25, LoadedSamples: 8,
			BaselineRTTMs: 31.5, Probe: "bfd", Degraded: true, Since: at(-12 * time.Second),
			Reason: "loss 23 % > 10 % for 12 s"}},
		Memory: &Memory{RSSBytes: 30 << 20, HeapBytes: 10 << 20, HeapGoalBytes: 20 << 20, LimitBytes: 64 << 20, Trims: 3, TrimmedBytes: 40 << 20},
		Inbound: &Inbound{Table: "uplinkd_in", Repairs: 1, DroppedPackets: 5, Error: "x",
			Published: []Published{{Name: "web", Protocol: "tcp", Ports: "443", To: "198.18.10.2:443",
				To6: "[2001:db8:10::2]:443", Allow: []string{"0.0.0.0/0"}, Rate: 10, Connections: 4}}},
	}
}

// TestFixtureIsFull: a field added to any status struct must be set in
// fullStatus, so that it reaches the golden file and the doc check.
func TestFixtureIsFull(t *testing.T) {
	var empty []string
	walkZero(reflect.ValueOf(fullStatus()), "Status", &empty)
	if len(empty) > 0 {
		t.Errorf("fullStatus leaves these fields zero; set them so the golden file shows them:\n%s", strings.Join(empty, "\n"))
	}
}

func walkZero(v reflect.Value, path string, empty *[]string) {
	if v.IsZero() {
		*empty = append(*empty, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		walkZero(v.Elem(), path, empty)
	case reflect.Slice:
		for i := range v.Len() {
			walkZero(v.Index(i), path+"[]", empty)
		}
	case reflect.Struct:
		if v.Type().PkgPath() != "" && !strings.HasPrefix(v.Type().PkgPath(), "github.com/uplinkd/") {
			return // time.Time, netip.Addr: set as a whole
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				walkZero(v.Field(i), path+"."+f.Name, empty)
			}
		}
	}
}

func marshalStatus(t *testing.T, s Status) []byte {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestStatusGolden: the status JSON is the one in testdata (go test
// -run TestStatusGolden -update rewrites it after a deliberate change,
// which also needs docs/status-api.md and perhaps SchemaVersion).
func TestStatusGolden(t *testing.T) {
	got := marshalStatus(t, fullStatus())
	if *update {
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("status JSON differs from %s: a field renamed, removed or changed in unit breaks scripts; "+
			"if deliberate, run go test ./internal/api -run TestStatusGolden -update, update docs/status-api.md "+
			"and raise SchemaVersion for anything but an added field.\n%s", goldenPath, lineDiff(string(want), string(got)))
	}
}

// TestStatusRoundTrip: `uplinkd status --json` decodes the daemon's JSON
// and encodes it again; nothing may be lost on the way.
func TestStatusRoundTrip(t *testing.T) {
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var s Status
	if err := json.Unmarshal(want, &s); err != nil {
		t.Fatal(err)
	}
	if got := marshalStatus(t, s); !bytes.Equal(got, want) {
		t.Errorf("decoded and encoded again, the status changes:\n%s", lineDiff(string(want), string(got)))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "-"+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+"+l)
		}
	}
	return strings.Join(out, "\n")
}

var (
	snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	// goDuration matches time.Duration.String output: 312ms, 1m30s, 1.5µs.
	goDuration = regexp.MustCompile(`^-?([0-9.]+(ns|us|µs|ms|s|m|h))+$`)
	// durationWord marks a key that holds a span or an instant.
	durationWord = regexp.MustCompile(`(^|_)(took|rtt|age|detect|interval|duration|elapsed|latency|delay|timeout|wait|hold|uptime|time|since|until)(_|$)`)
	unitSuffix   = regexp.MustCompile(`_(ms|seconds)$`)
)

// schemaProblems lists keys that are not snake_case and values that look
// like durations without a unit in their key.
func schemaProblems(v any, path string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := path + "." + k
			if !snakeKey.MatchString(k) {
				out = append(out, p+": key is not snake_case")
			}
			out = append(out, valueProblems(k, x, p)...)
			out = append(out, schemaProblems(x, p)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, schemaProblems(x, path+"[]")...)
		}
	}
	return out
}

func valueProblems(key string, v any, path string) []string {
	switch v := v.(type) {
	case string:
		if goDuration.MatchString(v) {
			return []string{path + ": " + v + " is a Go duration string; give a number with _ms or _seconds in the key"}
		}
		if durationWord.MatchString(key) && !unitSuffix.MatchString(key) {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				return []string{path + ": " + v + " is neither an RFC 3339 time nor a number with its unit"}
			}
		}
	case float64:
		if durationWord.MatchString(key) && !unitSuffix.MatchString(key) {
			return []string{path + ": a number that looks like a duration needs _ms or _seconds in its key"}
		}
	}
	return nil
}

func TestStatusKeysSnakeCaseWithUnits(t *testing.T) {
	var v any
	if err := json.Unmarshal(marshalStatus(t, fullStatus()), &v); err != nil {
		t.Fatal(err)
	}
	if p := schemaProblems(v, "status"); len(p) > 0 {
		slices.Sort(p)
		t.Errorf("status JSON breaks the schema's rules (docs/status-api.md):\n%s", strings.Join(p, "\n"))
	}
}

// TestSchemaProblemsCatches: the checker itself flags what it is for.
func TestSchemaProblemsCatches(t *testing.T) {
	for _, tt := range []struct {
		json string
		want int
	}{
		{`{"Name": "a"}`, 1},
		{`{"bgp": [{"LastError": ""}]}`, 1},
		{`{"took": "312ms"}`, 1},
		{`{"took": 312000000}`, 1},
		{`{"compile_took": 40}`, 1},
		{`{"took_ms": 312}`, 0},
		{`{"since": "2026-11-30T12:00:00Z"}`, 0},
		{`{"bfd_detect": "300ms"}`, 1},
		{`{"held_until": "in 3s"}`, 1},
		{`{"last_rtt_ms": 1.5, "age_seconds": 3600, "name": "docomo"}`, 0},
	} {
		var v any
		if err := json.Unmarshal([]byte(tt.json), &v); err != nil {
			t.Fatal(err)
		}
		if got := schemaProblems(v, "s"); len(got) != tt.want {
			t.Errorf("%s: %d problems %q, want %d", tt.json, len(got), got, tt.want)
		}
	}
}

// TestStatusDocumented: docs/status-api.md names every key of the golden
// file, in backquotes (an array's as `key[]` or `key`).
func TestStatusDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/status-api.md")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(golden, &v); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	collectKeys(v, keys)
	var missing []string
	for k := range keys {
		if !bytes.Contains(doc, []byte("`"+k+"`")) && !bytes.Contains(doc, []byte("`"+k+"[]`")) {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("docs/status-api.md does not describe these keys: %s", strings.Join(missing, ", "))
	}
}

func collectKeys(v any, keys map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			keys[k] = true
			collectKeys(x, keys)
		}
	case []any:
		for _, x := range v {
			collectKeys(x, keys)
		}
	}
}
