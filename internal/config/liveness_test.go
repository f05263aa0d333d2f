package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLivenessModeErrors: a bad liveness mode or idle interval is refused
// at its position, with what to write instead.
func TestLivenessModeErrors(t *testing.T) {
	tests := []struct {
		name string
		src  func(t *testing.T) string
		want []string
	}{
		{
			name: "unknown global mode",
			src:  func(t *testing.T) string { return goodEdge + "\n[liveness]\nmode = \"slow\"\n" },
			want: []string{`28:1: liveness.mode: "slow" is not one of ["fast" "frugal"]`},
		},
		{
			name: "unknown uplink mode",
			src: func(t *testing.T) string {
				return edit(t, goodEdge, `interface = "wwan0"`, "interface = \"wwan0\"\nliveness = \"cheap\"")
			},
			want: []string{`12:1: uplink[0].liveness: "cheap" is not one of ["fast" "frugal"]`},
		},
		{
			name: "unknown hub tunnel mode",
			src: func(t *testing.T) string {
				return edit(t, goodHub, `listen_port = 51822`, "listen_port = 51822\nliveness = \"Frugal\"")
			},
			want: []string{`21:1: tunnel[1].liveness: "Frugal" is not one of ["fast" "frugal"]`},
		},
		{
			name: "idle interval out of range",
			src:  func(t *testing.T) string { return goodEdge + "\n[liveness]\nmode = \"frugal\"\nidle_interval_ms = 0\n" },
			want: []string{`29:1: liveness.idle_interval_ms: 0 is out of range (milliseconds, 100 to 60000; the frugal mode's BFD interval while a tunnel is idle; at 2000 ms a silent peer is probed after 2.25 s, so an idle failure is detected within 2.5 s)`},
		},
		{
			name: "idle interval faster than the busy one",
			src: func(t *testing.T) string {
				return goodEdge + "\n[liveness]\nmode = \"frugal\"\ninterval_ms = 300\nidle_interval_ms = 200\n"
			},
			want: []string{`30:1: liveness.idle_interval_ms: 200 is below interval_ms 300 (the idle rate must not be faster than the busy one)`},
		},
		{
			name: "frugal without bfd",
			src:  func(t *testing.T) string { return goodEdge + "\n[liveness]\nbfd = false\nmode = \"frugal\"\n" },
			want: []string{`29:1: liveness.mode: the frugal liveness mode needs BFD (set bfd = true in [liveness], or leave the mode out)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(tt.src(t)), testKeys)
			if diff := cmp.Diff(tt.want, positions(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLivenessMode: the global mode is every tunnel's default, an uplink
// or hub tunnel may set its own, and a frugal tunnel anywhere makes BGP's
// keepalive 60 s and hold time 180 s unless they are set.
func TestLivenessMode(t *testing.T) {
	type result struct {
		Uplinks   []string
		Tunnels   []string
		Hold, KA  time.Duration
		IdleEvery time.Duration
	}
	tests := []struct {
		name string
		src  func(t *testing.T) string
		want result
	}{
		{"default fast", func(t *testing.T) string { return goodEdge },
			result{Uplinks: []string{"fast", "fast"}, Hold: 9 * time.Second, KA: 3 * time.Second, IdleEvery: 2 * time.Second}},
		{"global frugal", func(t *testing.T) string {
			return goodEdge + "\n[liveness]\nmode = \"frugal\"\nidle_interval_ms = 900\n"
		},
			result{Uplinks: []string{"frugal", "frugal"}, Hold: 180 * time.Second, KA: 60 * time.Second, IdleEvery: 900 * time.Millisecond}},
		{"one uplink frugal", func(t *testing.T) string {
			return edit(t, goodEdge, `interface = "wwan1"`, "interface = \"wwan1\"\nliveness = \"frugal\"")
		}, result{Uplinks: []string{"fast", "frugal"}, Hold: 180 * time.Second, KA: 60 * time.Second, IdleEvery: 2 * time.Second}},
		{"global frugal, one uplink fast, hold time set", func(t *testing.T) string {
			src := edit(t, goodEdge, `interface = "wwan0"`, "interface = \"wwan0\"\nliveness = \"fast\"", "[bgp]\n", "[bgp]\nhold_time = 30\n")
			return src + "\n[liveness]\nmode = \"frugal\"\n"
		}, result{Uplinks: []string{"fast", "frugal"}, Hold: 30 * time.Second, KA: 10 * time.Second, IdleEvery: 2 * time.Second}},
		{"hub tunnel frugal", func(t *testing.T) string {
			return edit(t, goodHub, `listen_port = 51821`, "listen_port = 51821\nliveness = \"frugal\"")
		}, result{Tunnels: []string{"frugal", "fast"}, Hold: 180 * time.Second, KA: 60 * time.Second, IdleEvery: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse("t.toml", []byte(tt.src(t)), testKeys)
			if err != nil {
				t.Fatal(err)
			}
			got := result{Hold: c.BGP.HoldTime, KA: c.BGP.Keepalive, IdleEvery: c.Liveness.IdleInterval}
			for _, u := range c.Uplinks {
				got.Uplinks = append(got.Uplinks, u.Liveness)
			}
			for _, tu := range c.Tunnels {
				got.Tunnels = append(got.Tunnels, tu.Liveness)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
