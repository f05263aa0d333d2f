package lab

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
)

// SLAConfig is an [sla] quick enough for tests and the bench: a probe
// every 100 ms, judged over 1 s, out after a 1 s breach, back after 2 s
// good; RTT above 200 ms, jitter above 30 ms or loss above 10 % breaks it.
const SLAConfig = `
[sla]
max_rtt_ms = 200
max_jitter_ms = 30
max_loss_percent = 10
probe_interval_ms = 100
window_ms = 1000
breach_ms = 1000
recover_ms = 2000
`

// WithGoodputSLA edits the edge's config to judge docomo alone, by its
// goodput under load (min 1000 kbit/s, its own [uplink.sla]); [sla] gives
// quick timings (probe 200 ms, window 2 s, breach 1 s, recover 3 s) and no
// limit of its own, so the other carriers are not probed at all.
func WithGoodputSLA(c string) string {
	at := strings.Index(c, "\n[[uplink]]\nname = \"softbank\"")
	if at < 0 {
		return c // not the lab's edge: the reload is then a no-op
	}
	return c[:at] + "\n[uplink.sla]\nmin_goodput_kbps = 1000\n" + c[at:] + `
[sla]
probe_interval_ms = 200
window_ms = 2000
breach_ms = 1000
recover_ms = 3000
`
}

// MobileBFD is BFD at FRR's default interval with a detection time of 3 s,
// as a home on mobile carriers might set it, for a [liveness] table. At
// 100 ms × 3 (and in the frugal mode, whose probes run at that rate) a
// carrier throttled to 128 kbit/s loses or delays enough BFD packets behind
// a single TCP flow that BFD itself takes the tunnel out within 300 ms, and
// again after every hold-down, before anything can judge its goodput; at
// 300 ms × 5 it still did once in CI (five in a row lost: 1.5 s).
const MobileBFD = "interval_ms = 300\nmultiplier = 10\n"

// EditConfig rewrites a site's config file with edit and reloads its
// daemon; restore puts the file back and reloads again.
func (l *Lab) EditConfig(site string, edit func(string) string) (restore func() error, err error) {
	path := l.ConfigPath(site)
	orig, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(edit(string(orig))), 0o644); err != nil {
		return nil, err
	}
	restore = func() error {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			return err
		}
		return l.Reload(site)
	}
	if err := l.Reload(site); err != nil {
		restore()
		return nil, err
	}
	return restore, nil
}

// WithEdgeConfig appends extra to the edge's config (EditConfig).
func (l *Lab) WithEdgeConfig(extra string) (restore func() error, err error) {
	return l.EditConfig("edge", func(c string) string { return c + extra })
}

// WaitSLAJudging waits until the edge's SLA judges n tunnels (by limits:
// with BFD on, the others are measured too).
func (l *Lab) WaitSLAJudging(n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		st, err := api.NewClient(l.Socket("edge")).Status()
		got := 0
		for _, s := range st.SLA {
			if s.Judging && s.Limits {
				got++
			}
		}
		if err == nil && got == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the edge's SLA judges %d tunnels after %s, want %d (%v)", got, limit, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
