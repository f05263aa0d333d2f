package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMetricsAddress: metrics stay on loopback unless the operator opts in,
// and `uplinkd check` says when they do not.
func TestMetricsAddress(t *testing.T) {
	const warn = "metrics: served on "
	for _, tc := range []struct {
		name, api string
		want      []string
		summary   string // a line `uplinkd check` must print, "" none
	}{
		{"default", "", nil, ""},
		{"ipv6 loopback", `metrics = "[::1]:9474"`, nil, ""},
		{"all addresses", `metrics = "0.0.0.0:9474"`,
			[]string{"10:1: api.metrics: 0.0.0.0 is not a loopback address: the metrics name the site's tunnels, peers and prefixes to whoever reaches them (keep 127.0.0.1, or add metrics_public = true under [api] to serve them there)"}, ""},
		{"a LAN address", `metrics = "198.18.10.1:9474"`,
			[]string{"10:1: api.metrics: 198.18.10.1 is not a loopback address: the metrics name the site's tunnels, peers and prefixes to whoever reaches them (keep 127.0.0.1, or add metrics_public = true under [api] to serve them there)"}, ""},
		{"all addresses, opted in", "metrics = \"[::]:9474\"\nmetrics_public = true", nil,
			"metrics: served on [::]:9474 to every host that can reach it (metrics_public = true)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := edit(t, goodEdge, "[[uplink]]\nname = \"docomo\"", "[api]\n"+tc.api+"\n\n[[uplink]]\nname = \"docomo\"")
			c, err := parse("t.toml", []byte(src), testKeys)
			if diff := cmp.Diff(tc.want, positions(t, err)); diff != "" {
				t.Fatalf("errors mismatch (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if got := c.Summary(); tc.summary != "" && !strings.Contains(got, tc.summary) || tc.summary == "" && strings.Contains(got, warn) {
				t.Errorf("summary, want line %q:\n%s", tc.summary, got)
			}
		})
	}
}
