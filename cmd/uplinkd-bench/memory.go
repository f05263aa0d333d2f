package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/lab"
	"github.com/uplinkd/uplinkd/internal/procstat"
)

const (
	memFeedPort = 8097
	memSource   = "routeviews-all"
)

// memoryRows: row 6. The edge daemon's peak RSS (VmHWM) once the 998 k
// RouteViews prefixes are one breakout source: a plain list served from
// ulb-web by this process, the edge config reloaded with it (6); then the
// daemon restarted with that source and a BGP receiver to announce the
// set to (6b).
func memoryRows(ctx context.Context, l *benchLab, pfx2as string) []row {
	const id = "6"
	name := "memory: edge daemon peak RSS with the 998 k set as a breakout source (peer: same daemon before)"
	ps, err := loadPrefixes(pfx2as)
	if err != nil {
		return []row{failed(id, name, err)}
	}
	stop, err := serveList(l, ps)
	if err != nil {
		return []row{failed(id, name, err)}
	}
	defer stop()
	idle := idleMemoryRow(ctx, l)
	r := memoryRow(ctx, l, len(ps))
	if r.err != nil {
		return []row{idle, r, notMeasured("6b", "memory with BGP announce on", "row 6 failed")}
	}
	return []row{idle, r, announceMemoryRow(ctx, l, len(ps))}
}

// serveList serves the prefixes as a plain list from ulb-web until stop.
func serveList(l *benchLab, ps []netip.Prefix) (stop func(), err error) {
	var body strings.Builder
	for _, p := range ps {
		body.WriteString(p.String())
		body.WriteByte('\n')
	}
	list := []byte(body.String())
	var ln net.Listener
	err = lab.InNS(l.NS("web"), func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(lab.WebAddr, strconv.Itoa(memFeedPort)))
		return err
	})
	if err != nil {
		return nil, err
	}
	// With its length, as a real feed server (S3, a CDN) sends it: the
	// daemon then reads the body into a buffer sized once.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(list)))
		w.Write(list)
	})}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// memoryRow: row 6, the edge config reloaded with the big source.
func memoryRow(ctx context.Context, l *benchLab, n int) row {
	const id = "6"
	name := "memory: edge daemon peak RSS with the 998 k set as a breakout source (peer: same daemon before)"
	pid, err := l.DaemonPID("edge")
	if err != nil {
		return failed(id, name, err)
	}
	before, err := vmHWM(pid)
	if err != nil {
		return failed(id, name, err)
	}
	conf, err := os.ReadFile(l.ConfigPath("edge"))
	if err != nil {
		return failed(id, name, err)
	}
	// The whole table covers 71 % of IPv4: past the coverage limits' defaults.
	text := strings.Replace(string(conf), "[breakout]\n", "[breakout]\nmax_feed_mb = 64\nfetch_timeout = 120\nmax_total_coverage_percent = 100\n", 1) + fmt.Sprintf(`
[[breakout.source]]
name = %q
type = "url"
url = "http://%s:%d/all.txt"
allow_http = true
max_coverage_percent = 100
refresh = 86400
`, memSource, lab.WebAddr, memFeedPort)
	if err := os.WriteFile(l.ConfigPath("edge"), []byte(text), 0o644); err != nil {
		return failed(id, name, err)
	}
	t0 := time.Now()
	if err := l.Reload("edge"); err != nil {
		return failed(id, name, err)
	}
	installed, err := waitSource(ctx, l, n, 180*time.Second)
	took := time.Since(t0)
	if err != nil {
		return failed(id, name, err)
	}
	peak, err := vmHWM(pid)
	if err != nil {
		return failed(id, name, err)
	}
	return row{id: id, name: name + fmt.Sprintf("; %d routes installed %s after SIGHUP", installed, ms(took)),
		uplinkd: mib(peak), peer: mib(before) + " (VmHWM before the set)",
		ratio: fmt.Sprintf("%.2f of goal 128 MiB", float64(peak)/float64(128<<20)), verdict: verdict(peak <= 128<<20)}
}

// waitSource waits until the edge's status shows the big source fetched
// and its routes installed, and returns how many routes the table holds.
func waitSource(ctx context.Context, l *benchLab, n int, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	last := "no status"
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st, err := api.NewClient(l.Socket("edge")).Status()
		if err == nil && st.Breakout != nil {
			for _, s := range st.Breakout.Sources {
				if s.Name != memSource {
					continue
				}
				last = fmt.Sprintf("%d prefixes, error %q, installed %d", s.Prefixes, s.LastError, st.Breakout.Compile.Installed)
				// Installed counts aggregated routes: the set is in once the
				// table outgrows the lab's own ~120 and the install is later
				// than the fetch.
				if s.Prefixes >= n*99/100 && st.Breakout.Compile.Installed > 1000 && !st.Breakout.Compile.LastInstall.Before(s.LastSuccess) {
					return st.Breakout.Compile.Installed, nil
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("source %s not installed within %s: %s; see %s", memSource, limit, last, l.LogPath("edge"))
}

// idleQuiet is how long row 6c leaves the edge without the bench's
// traffic before it reads the RSS: past a few of the daemon's 10 s heap
// trims.
const idleQuiet = 40 * time.Second

// idleMemoryRow: row 6c. The edge as the lab runs it (its three tunnels,
// the lab's breakout sources) left alone for idleQuiet, then its resident
// size read five times a second apart; the largest, and what of it is the
// binary's pages (file) and the rest (anon).
func idleMemoryRow(ctx context.Context, l *benchLab) row {
	const id = "6c"
	name := fmt.Sprintf("memory: idle edge's steady RSS (3 tunnels, the lab's breakout sources), after %s without the bench's traffic", idleQuiet)
	pid, err := l.DaemonPID("edge")
	if err != nil {
		return failed(id, name, err)
	}
	select {
	case <-ctx.Done():
		return failed(id, name, ctx.Err())
	case <-time.After(idleQuiet):
	}
	var rss, anon, file int64
	for i := 0; i < 5; i++ {
		st, err := procstat.Read(pid)
		if err != nil {
			return failed(id, name, err)
		}
		if b, _ := st.Bytes("VmRSS"); b > rss {
			rss = b
			anon, _ = st.Bytes("RssAnon")
			file, _ = st.Bytes("RssFile")
		}
		time.Sleep(time.Second)
	}
	return row{id: id, name: name, uplinkd: fmt.Sprintf("%s (anon %s, file %s)", mib(rss), mib(anon), mib(file)),
		ratio: fmt.Sprintf("%.2f of goal 48 MiB", float64(rss)/float64(48<<20)), verdict: verdict(rss <= 48<<20)}
}

// vmHWM reads a process's peak resident set size in bytes. The pid file
// holds `ip netns exec`'s pid, which execs the daemon in place.
func vmHWM(pid int) (int64, error) {
	st, err := procstat.Read(pid)
	if err != nil {
		return 0, err
	}
	b, ok := st.Bytes("VmHWM")
	if !ok {
		return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return b, nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
