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
			SLALimits: SLALimits{MaxRTT: 500 * time.Millisecond, MaxLoss: 10}, LoadDelay: 50 * time.Millisecond, Action: "out", Weight: 1}},
		{"degrade, every key", "[sla]\nprobe_interval_ms = 200\nwindow_ms = 2000\nbreach_ms = 1000\nrecover_ms = 5000\nmax_jitter_ms = 80\nmax_loss_percent = 12\naction = \"degrade\"\ndegraded_weight = 2\n",
			SLA{ProbeInterval: 200 * time.Millisecond, Window: 2 * time.Second, Breach: time.Second, Recover: 5 * time.Second,
				SLALimits: SLALimits{MaxJitter: 80 * time.Millisecond, MaxLoss: 12}, LoadDelay: 50 * time.Millisecond, Action: "degrade", Weight: 2}},
		{"goodput", "[sla]\nmin_goodput_kbps = 1000\nload_delay_ms = 80\n", SLA{ProbeInterval: time.Second,
			Window: 10 * time.Second, Breach: 5 * time.Second, Recover: 30 * time.Second,
			SLALimits: SLALimits{MinGoodput: 1e6}, LoadDelay: 80 * time.Millisecond, Action: "out", Weight: 1}},
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
			if c.SLA.On() != (tt.want.MaxRTT > 0 || tt.want.MaxJitter > 0 || tt.want.MaxLoss > 0 || tt.want.MinGoodput > 0) {
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
			"sla: sets no limit: add max_rtt_ms, max_jitter_ms, max_loss_percent or min_goodput_kbps, here or in an [uplink.sla], or remove [sla]"},
		{"goodput of 0", "min_goodput_kbps = 0\n",
			"sla.min_goodput_kbps: 0 is out of range (1 to 10000000 kbit/s; what the tunnel must carry when it is full, e.g. 1000)"},
		{"load delay too small", "min_goodput_kbps = 1000\nload_delay_ms = 1\n",
			"sla.load_delay_ms: 1 is out of range (milliseconds, 5 to 5000; a probe this much slower than the tunnel's quietest, while it carries traffic, finds it full)"},
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

// withUplinkSLA puts keys in an [uplink.sla] after softbank's uplink
// (goodEdge's second).
func withUplinkSLA(t *testing.T, keys string) string {
	return edit(t, goodEdge, "\n[bgp]\n", "\n[uplink.sla]\n"+keys+"\n[bgp]\n")
}

// TestUplinkSLA: an [uplink.sla] replaces [sla]'s limits key by key for
// that carrier's tunnels, 0 switching one off; the timings stay [sla]'s.
func TestUplinkSLA(t *testing.T) {
	src := withUplinkSLA(t, "max_rtt_ms = 600\nmax_loss_percent = 0\nmin_goodput_kbps = 500\n") +
		"[sla]\nmax_rtt_ms = 200\nmax_loss_percent = 10\nwindow_ms = 20000\n"
	c, err := parse("t.toml", []byte(src), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.SLA.For("softbank"), (SLALimits{MaxRTT: 600 * time.Millisecond, MinGoodput: 5e5}); got != want {
		t.Errorf("softbank's limits %+v, want %+v", got, want)
	}
	if got, want := c.SLA.For("docomo"), (SLALimits{MaxRTT: 200 * time.Millisecond, MaxLoss: 10}); got != want {
		t.Errorf("docomo's limits %+v, want [sla]'s %+v", got, want)
	}
	if c.SLA.Window != 20*time.Second {
		t.Errorf("window %v", c.SLA.Window)
	}
	// Without [sla]: the defaults' timings, the one uplink judged.
	c, err = parse("t.toml", []byte(withUplinkSLA(t, "max_rtt_ms = 400\n")), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	if !c.SLA.On() || c.SLA.For("softbank").MaxRTT != 400*time.Millisecond || c.SLA.For("docomo").Judged() || c.SLA.Window != 10*time.Second {
		t.Errorf("uplink sla alone: %+v", c.SLA)
	}
}

func TestUplinkSLABad(t *testing.T) {
	tests := []struct {
		name, keys, want string
	}{
		{"loss of 100 %", "max_loss_percent = 100\n",
			"uplink[1].sla.max_loss_percent: 100 is out of range (0 to 99, whole percent; 10 is a carrier in trouble)"},
		{"negative goodput", "min_goodput_kbps = -1\n",
			"uplink[1].sla.min_goodput_kbps: -1 is out of range (0 to 10000000 kbit/s; what the tunnel must carry when it is full, e.g. 1000)"},
		{"rtt too long", "max_rtt_ms = 70000\n",
			"uplink[1].sla.max_rtt_ms: 70000 is out of range (milliseconds, 0 to 60000; the mean round trip through the tunnel, probe to reply)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(withUplinkSLA(t, tt.keys)), testKeys)
			got := positions(t, err)
			if len(got) != 1 || !cmp.Equal(stripPos(got[0]), tt.want) {
				t.Errorf("errors %q, want one: %q", got, tt.want)
			}
		})
	}
}
