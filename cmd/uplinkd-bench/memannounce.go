package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/lab"
)

// lanBirdASN is the LAN router's AS, as in the lab's announce test.
const lanBirdASN = 65010

// lanBirdConf: BIRD 2 in ulb-lan, the role ExaBGP's receiver played. The
// 5G router (the next hop) is not on the LAN: BIRD resolves it through
// the edge (multihop: recursive next hops). No kernel protocol: it only
// holds the routes.
var lanBirdConf = fmt.Sprintf(`router id %s;
log stderr { warning, error, fatal };
protocol device { }
protocol static { ipv4; route 198.18.5.0/24 via 198.18.10.1; }
protocol static { ipv6; route 2001:db8:5::/64 via 2001:db8:10::1; }
protocol bgp edge {
	local %s as %d;
	neighbor 198.18.10.1 as 64512;
	passive on;
	multihop 2;
	ipv4 { import all; export none; };
	ipv6 { import all; export none; };
}
`, lab.LANHost, lab.LANHost, lanBirdASN)

// announceMemoryRow: row 6b. The edge daemon restarted with row 6's big
// source and a [[breakout.peer]] (BIRD in ulb-lan), so that its peak is
// that of one process holding the set in its FIB path and in the
// announcer's GoBGP RIB; measured once BIRD holds every installed route.
// The lab's config without the peer is restored afterwards.
func announceMemoryRow(ctx context.Context, l *benchLab, nSource int) row {
	const id = "6b"
	name := "memory: edge daemon peak RSS, the 998 k source announced to BIRD 2 in ulb-lan ([[breakout.peer]]; peer: BIRD's RSS)"
	if _, err := exec.LookPath("bird"); err != nil {
		return notMeasured(id, name, "bird is not installed (apt-get install -y --no-install-recommends bird2)")
	}
	dir, removeDir, err := tempDir("uplinkd-bench-lanbird")
	if err != nil {
		return failed(id, name, err)
	}
	defer removeDir()
	b, err := startBird(l.NS("lan"), dir, lanBirdConf)
	if err != nil {
		return failed(id, name, err)
	}
	defer b.stop()
	orig, err := os.ReadFile(l.ConfigPath("edge"))
	if err != nil {
		return failed(id, name, err)
	}
	peer := fmt.Sprintf("\n[[breakout.peer]]\naddress = %q\nasn = %d\n", lab.LANHost, lanBirdASN)
	t0 := time.Now()
	r := announcePeak(ctx, l, b, string(orig)+peer, nSource)
	r.id, r.name = id, name+r.name
	if err := restartEdge(ctx, l, string(orig), func(uint32) bool { return true }); err != nil && r.err == nil {
		r.err = fmt.Errorf("restore the edge config without the peer: %w", err)
	}
	logf("memory with announce: %s", time.Since(t0).Round(time.Millisecond))
	return r
}

// announcePeak restarts the edge with conf, waits for the source and for
// BIRD to hold what is installed, and reads both peaks.
func announcePeak(ctx context.Context, l *benchLab, b *bird, conf string, nSource int) row {
	if err := restartEdge(ctx, l, conf, func(uint32) bool { return true }); err != nil {
		return row{err: err}
	}
	t0 := time.Now()
	if _, err := waitSource(ctx, l, nSource, 180*time.Second); err != nil {
		return row{err: err}
	}
	held, err := waitHeld(ctx, l, b, 180*time.Second)
	if err != nil {
		return row{err: err}
	}
	took := time.Since(t0)
	pid, err := l.DaemonPID("edge")
	if err != nil {
		return row{err: err}
	}
	peak, err := vmHWM(pid)
	if err != nil {
		return row{err: err}
	}
	birdPeak, err := b.peak()
	if err != nil {
		return row{err: err}
	}
	return row{name: fmt.Sprintf("; all %d installed routes held %s after ECMP", held, ms(took)),
		uplinkd: mib(peak), peer: mib(birdPeak) + " (BIRD receiver)",
		ratio: fmt.Sprintf("%.2f of goal 256 MiB", float64(peak)/float64(256<<20)), verdict: verdict(peak <= 256<<20)}
}

// waitHeld polls until BIRD holds as many routes as the edge has
// installed (both families), and returns that count.
func waitHeld(ctx context.Context, l *benchLab, b *bird, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	last := "no status"
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st, err := api.NewClient(l.Socket("edge")).Status()
		got, _, berr := b.imported("edge")
		if err == nil && berr == nil && st.Breakout != nil {
			want := st.Breakout.Compile.Installed
			if got == want && want > 1000 {
				return got, nil
			}
			last = fmt.Sprintf("BIRD holds %d of %d", got, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return 0, fmt.Errorf("BIRD in %s does not hold the installed set within %s: %s: %.300s", l.NS("lan"), limit, last, b.logs.String())
}
