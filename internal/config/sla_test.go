package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSLAGood(t *testing.T) {
	tests := []struct {
		name string
		keys string
		want SLA
	}{
		{"none: off", "", SLA{}},
		{"loss and rtt, defaults", "[sla]\nmax_loss_percent = 10\nmax_rtt_ms = 500\n", SLA{ProbeInterval: time.Second,
			Window: 10 * time.Second, Breach: 5 * time.Second, Recover: 30 * time.Second,
			MaxRTT: 500 * time.Millisecond, MaxLoss: 10, Action: "out", Weight: 1}},
		{"degrade, every key", "[sla]\nprobe_interval_ms = 200\nwindow_ms = 2000\nbreach_ms = 1000\nrecover_ms = 5000\nmax_jitter_ms = 80\nmax_loss_percent = 12\naction = \"degrade\"\ndegraded_weight = 2\n",
			SLA{ProbeInterval: 200 * time.Millisecond, Window: 2 * time.Second, Breach: time.Second, Recover: 5 * time.Second,
				MaxJitter: 80 * time.Millisecond, MaxLoss: 12, Action: "degrade", Weight: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse("t.toml", []byte(goodEdge+tt.keys), testKeys)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.SLA); diff != "" {
				t.Errorf("sla (-want +got)\n%s", diff)
			}
			if c.SLA.On() != (tt.want.MaxRTT > 0 || tt.want.MaxJitter > 0 || tt.want.MaxLoss > 0) {
				t.Error("On() disagrees with the limits")
			}
		})
	}
}

func TestSLABad(t *testing.T) {
	tests := []struct {
		name, keys, want string
	}{
		{"loss of 100 %", "max_loss_percent = 100\n",
			"sla.max_loss_percent: 100 is out of range (1 to 99, whole percent; 10 is a carrier in trouble)"},
		{"loss of 0", "max_loss_percent = 0\n",
			"sla.max_loss_percent: 0 is out of range (1 to 99, whole percent; 10 is a carrier in trouble)"},
		{"negative rtt", "max_rtt_ms = -5\n",
			"sla.max_rtt_ms: -5 is out of range (milliseconds, 1 to 60000; the mean round trip through the tunnel, probe to reply)"},
		{"window too short for the probes", "max_rtt_ms = 300\nwindow_ms = 3000\n",
			"sla.window_ms: 3s holds fewer than 5 probes at one per 1s: nothing would ever be judged (make it at least 5000)"},
		{"unknown action", "max_rtt_ms = 300\naction = \"drop\"\n",
			`sla.action: "drop" is not one of ["out" "degrade"]`},
		{"weight without degrade", "max_rtt_ms = 300\ndegraded_weight = 2\n",
			`sla.degraded_weight: is used only with action = "degrade" (set it, or remove this key)`},
		{"no limit", "window_ms = 20000\n",
			"sla: sets no limit: add max_rtt_ms, max_jitter_ms or max_loss_percent, or remove [sla]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(goodEdge+"[sla]\n"+tt.keys), testKeys)
			got := positions(t, err)
			if len(got) != 1 || !cmp.Equal(stripPos(got[0]), tt.want) {
				t.Errorf("errors %q, want one: %q", got, tt.want)
			}
		})
	}
}

// stripPos drops an error's "LINE:COL: " (what TestSLABad checks is the
// message; the position is the key's, which the scanner tests cover).
func stripPos(s string) string {
	for range 2 {
		if i := strings.IndexByte(s, ':'); i > 0 && strings.Trim(s[:i], "0123456789") == "" {
			s = strings.TrimPrefix(s[i+1:], " ")
		}
	}
	return s
}
