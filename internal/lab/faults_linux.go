package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/procstat"
)

// Fault modes a FaultFeed serves besides good lists: each path of the
// server is one way a provider's feed goes wrong.
var FeedFaults = []string{"500", "empty", "emptylist", "truncated", "huge", "hang"}

// FaultFeed is an ip-ranges.json style feed served from a lab host, whose
// answer depends on the path asked: /good/N is version N of a small good
// list, every other path one of FeedFaults. A source pointed at a new path
// (and reloaded) is fetched at once, so a test picks the fault it wants.
type FaultFeed struct {
	Addr string // host:port, as the edge reaches it
	srv  *http.Server
}

// FaultFeedPort is where StartFaultFeed listens (the lab's feeds use 8081).
const FaultFeedPort = 8091

// FaultFeedRegion is the only region of the fault feed's good lists.
const FaultFeedRegion = "lab-fault-1"

// StartFaultFeed serves a FaultFeed from a lab host (its socket stays in
// the host's namespace) until Close.
func (l *Lab) StartFaultFeed(host, addr string) (*FaultFeed, error) {
	var ln net.Listener
	err := InNS(l.NS(host), func() error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(FaultFeedPort)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fault feed on %s: %w", host, err)
	}
	f := &FaultFeed{Addr: ln.Addr().String()}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 5 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

// Close stops the server and ends the answers still hanging.
func (f *FaultFeed) Close() error { return f.srv.Close() }

// URL is the address of a path of the feed, e.g. "good/3" or "hang".
func (f *FaultFeed) URL(path string) string { return "http://" + f.Addr + "/" + path }

// GoodPrefixes are the IPv4 prefixes of version n of the good list: two
// that never change and one that moves with n. All are even /24s of
// 198.19.0.0/16, which the lab uses nowhere else, so no two aggregate.
func GoodPrefixes(n int) []string {
	return []string{"198.19.0.0/24", "198.19.2.0/24", fmt.Sprintf("198.19.%d.0/24", 4+2*(n%120))}
}

func goodList(n int) string {
	var rows []string
	for _, p := range GoodPrefixes(n) {
		rows = append(rows, fmt.Sprintf(`{"ip_prefix":%q,"region":%q,"service":"EC2","network_border_group":%q}`,
			p, FaultFeedRegion, FaultFeedRegion))
	}
	return fmt.Sprintf(`{"syncToken":"%d","createDate":"2026-11-30-00-00-00","prefixes":[%s],"ipv6_prefixes":[]}`,
		1700000000+n, strings.Join(rows, ","))
}

func (f *FaultFeed) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	if v, ok := strings.CutPrefix(path, "good/"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, goodList(n))
		return
	}
	switch path {
	case "500":
		http.Error(w, "internal error", http.StatusInternalServerError)
	case "empty": // 200 and no body at all
		w.Header().Set("Content-Length", "0")
	case "emptylist": // valid JSON that lists nothing
		fmt.Fprint(w, `{"syncToken":"1","createDate":"2026-11-30-00-00-00","prefixes":[],"ipv6_prefixes":[]}`)
	case "truncated": // the connection cut halfway through the document
		body := goodList(0)
		fmt.Fprint(w, body[:len(body)/2])
	case "huge":
		serveHuge(w)
	case "hang": // headers and a first byte, then nothing until the client gives up
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "{")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	default:
		http.NotFound(w, r)
	}
}

// serveHuge streams 50 MB without a Content-Length, so the client can
// only refuse it by counting.
func serveHuge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"syncToken":"1","createDate":"2026-11-30-00-00-00","prefixes":[`)
	row := []byte(`{"ip_prefix":"198.19.0.0/24","region":"x","service":"EC2","network_border_group":"x"},`)
	chunk := make([]byte, 0, 64<<10)
	for len(chunk)+len(row) <= cap(chunk) {
		chunk = append(chunk, row...)
	}
	for sent := 0; sent < 50<<20; sent += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// FaultSourceConfig is a [[breakout.source]] table for the fault feed at
// path, to append to the edge's config.
func FaultSourceConfig(name, url string) string {
	return fmt.Sprintf(`
[[breakout.source]]
name = %q
type = "aws"
url = %q
allow_http = true
services = ["EC2"]
regions = [%q]
refresh = 60
`, name, url, FaultFeedRegion)
}

// WithFetchTimeout returns an edge config with [breakout] fetch_timeout set,
// so that a hanging feed costs seconds rather than the default 30 s.
func WithFetchTimeout(config string, seconds int) (string, error) {
	const anchor = "\n[breakout]\n"
	i := strings.Index(config, anchor)
	if i < 0 {
		return "", errors.New("edge config has no [breakout] table")
	}
	i += len(anchor)
	return config[:i] + fmt.Sprintf("fetch_timeout = %d\n", seconds) + config[i:], nil
}

// ProcStatus is what /proc/PID/status says of a daemon's footprint, and
// what its metrics say of its Go runtime.
type ProcStatus struct {
	RSSKiB     int // VmRSS
	Threads    int
	Goroutines int // go_goroutines from the metrics endpoint; -1 if unread
	HeapKiB    int // go_memstats_heap_inuse_bytes, in KiB; -1 if unread
}

// String prints the footprint as the tests and the soak log it.
func (p ProcStatus) String() string {
	return fmt.Sprintf("RSS %.1f MiB, %d threads, %d goroutines, heap in use %.1f MiB",
		float64(p.RSSKiB)/1024, p.Threads, p.Goroutines, float64(p.HeapKiB)/1024)
}

// MetricsAddr is where a lab daemon serves its metrics, inside its
// namespace (the default [api] metrics).
const MetricsAddr = "127.0.0.1:9474"

// goRuntime scrapes a site's metrics for the Go runtime's goroutine count
// and heap in use: the Prometheus Go collector the daemon already serves.
func (l *Lab) goRuntime(site string) (goroutines, heapKiB int, err error) {
	host := "home"
	if site == "hub" {
		host = "hub"
	}
	c, err := l.DialFrom(host, "tcp", MetricsAddr, 2*time.Second)
	if err != nil {
		return -1, -1, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
	body, err := io.ReadAll(c)
	if err != nil {
		return -1, -1, err
	}
	goroutines, heapKiB = -1, -1
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "go_goroutines":
			goroutines = int(v)
		case "go_memstats_heap_inuse_bytes":
			heapKiB = int(v / 1024)
		}
	}
	if goroutines < 0 {
		return -1, -1, errors.New("metrics: no go_goroutines")
	}
	return goroutines, heapKiB, nil
}

// DaemonPID is the pid of a site's running daemon.
func (l *Lab) DaemonPID(site string) (int, error) {
	b, err := os.ReadFile(l.pidPath(site))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// Footprint reads a site daemon's resident memory and thread count from
// /proc, and its goroutines and heap from the metrics it serves.
func (l *Lab) Footprint(site string) (ProcStatus, error) {
	pid, err := l.DaemonPID(site)
	if err != nil {
		return ProcStatus{}, err
	}
	st, err := procstat.Read(pid)
	if err != nil {
		return ProcStatus{}, err
	}
	ps := ProcStatus{RSSKiB: int(st["VmRSS"]), Threads: int(st["Threads"])}
	if ps.RSSKiB == 0 || ps.Threads == 0 {
		return ps, fmt.Errorf("/proc/%d/status: no VmRSS or Threads", pid)
	}
	// Without metrics (disabled, or the scrape failed) the footprint is
	// still the outside view.
	ps.Goroutines, ps.HeapKiB, _ = l.goRuntime(site)
	return ps, nil
}

// SetCarrierLink sets the carrier's side of the home's uplink down or up,
// as when a carrier's radio dies: the home router's own link stays up.
func (l *Lab) SetCarrierLink(carrier string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	out, err := exec.Command("ip", "-n", l.NS(carrier), "link", "set", "home0", state).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s home0 %s: %v: %s", carrier, state, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Flap sets every carrier's link down and up n times each within about
// window, the carriers independently, each with random down and up times
// drawn from seed (the same seed replays the same flaps). It returns with
// every link up.
func (l *Lab) Flap(ctx context.Context, n int, window time.Duration, seed int64) error {
	errs := make([]error, len(Carriers))
	done := make(chan int)
	for i, c := range Carriers {
		go func() {
			errs[i] = l.flapOne(ctx, c, n, window, seed+int64(i))
			done <- i
		}()
	}
	for range Carriers {
		<-done
	}
	return errors.Join(errs...)
}

func (l *Lab) flapOne(ctx context.Context, carrier string, n int, window time.Duration, seed int64) error {
	rnd := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	period := window / time.Duration(n)
	defer l.SetCarrierLink(carrier, true)
	for range n {
		// Down for 10-70 % of a period, up for the rest: some flaps are
		// shorter than BFD's detection, some longer than the hold-down.
		down := time.Duration(float64(period) * (0.1 + 0.6*rnd.Float64()))
		if err := l.SetCarrierLink(carrier, false); err != nil {
			return err
		}
		if sleepCtx(ctx, down) != nil {
			return nil
		}
		if err := l.SetCarrierLink(carrier, true); err != nil {
			return err
		}
		if sleepCtx(ctx, period-down) != nil {
			return nil
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// KillHub is the fault of a VPS dying: its daemon SIGKILLed (no BGP
// withdrawal, no BFD AdminDown) and its link to the internet cut.
// Both happen at once; it returns once the process is gone.
func (l *Lab) KillHub(site string) error {
	b, err := os.ReadFile(l.pidPath(site))
	if err != nil {
		return err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	if err := run("ip", "-n", l.NS(site), "link", "set", "eth0", "down"); err != nil {
		return err
	}
	return l.Kill(site)
}

// KillHubDemo is `uplinkd-lab kill-hub`: the first hub dies; it prints
// how long the edge took to stop using it and where the LAN's traffic
// goes now.
func (l *Lab) KillHubDemo(ctx context.Context, w io.Writer) error {
	if l.Hubs < 2 {
		return fmt.Errorf("the lab has one hub: bring it up with two (uplinkd-lab up -hubs 2)")
	}
	if _, err := api.NewClient(l.Socket("hub")).Status(); err != nil {
		return fmt.Errorf("the hub is not running (uplinkd-lab revive-hub brings it back): %w", err)
	}
	start := time.Now()
	killed := make(chan error, 1)
	go func() { killed <- l.KillHub("hub") }()
	took, werr := l.WaitDefaultOnly(ctx, "hub2", start, 5*time.Second)
	if err := <-killed; err != nil {
		return err
	}
	fmt.Fprintf(w, "hub killed (SIGKILL, link cut) at %s\n", start.Format("15:04:05.000"))
	if werr != nil {
		fmt.Fprintf(w, "%v\n", werr)
	} else {
		fmt.Fprintf(w, "the edge's default route is over hub2's tunnels only, %s after the kill\n", took.Round(time.Millisecond))
	}
	seen, err := l.WhoAmI("lan", WebAddr)
	if err != nil {
		seen = "no answer (" + err.Error() + ")"
	}
	fmt.Fprintf(w, "from ul-lan, ul-web sees %s (hub2 is %s)\n\n", seen, Hub2Public)
	return l.WriteTable(w)
}

// ReviveHubDemo is `uplinkd-lab revive-hub`, the demo's third step: the
// hub killed by kill-hub comes back; it prints how long until the edge's
// default is over all six tunnels again (the hold-down included).
func (l *Lab) ReviveHubDemo(ctx context.Context, w io.Writer) error {
	if l.Hubs < 2 {
		return fmt.Errorf("the lab has one hub: bring it up with two (uplinkd-lab up -hubs 2)")
	}
	if _, err := api.NewClient(l.Socket("hub")).Status(); err == nil {
		return fmt.Errorf("the hub is running; kill it first (uplinkd-lab kill-hub)")
	}
	start := time.Now()
	if err := l.RestartHub("hub"); err != nil {
		return err
	}
	dw, err := l.WatchDefault()
	if err != nil {
		return err
	}
	defer dw.Close()
	all := func(devs []string) bool { return len(devs) == len(Carriers)*l.Hubs }
	took, _, werr := dw.Wait(ctx, start, 30*time.Second, all)
	if werr == nil {
		took, _, werr = dw.WaitFamily(ctx, true, start, 30*time.Second, all)
	}
	fmt.Fprintf(w, "hub restarted at %s\n", start.Format("15:04:05.000"))
	if werr != nil {
		fmt.Fprintf(w, "%v\n", werr)
	} else {
		fmt.Fprintf(w, "the edge's default routes (v4 and v6) are over all %d tunnels again, %s after the restart (hold-down 1 s)\n\n", len(Carriers)*l.Hubs, took.Round(time.Millisecond))
	}
	return l.WriteTable(w)
}

// WaitDefaultOnly polls the edge's kernel (not the daemon) until its IPv4
// default leaves only through the tunnels to one hub site, and says how
// long that took since start.
func (l *Lab) WaitDefaultOnly(ctx context.Context, site string, start time.Time, limit time.Duration) (time.Duration, error) {
	w, err := l.WatchDefault()
	if err != nil {
		return 0, err
	}
	defer w.Close()
	took, _, err := w.Wait(ctx, start, limit, l.OnlyTunnelsTo(site))
	if err != nil {
		return 0, fmt.Errorf("not over %s's tunnels only: %w", site, err)
	}
	return took, nil
}

// RestartHub brings a hub back after KillHub: its link, the address and
// default routes the kernel dropped with it (IPv6 addresses go with the
// link: keep_addr_on_down is off), and its daemon.
func (l *Lab) RestartHub(site string) error {
	ns := l.NS(site)
	gw4, gw6, addr6 := "203.0.113.8", "2001:db8:ff:9::1", HubPublic6
	if site == "hub2" {
		gw4, gw6, addr6 = "203.0.113.12", "2001:db8:ff:d::1", Hub2Public6
	}
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "addr", "replace", addr6 + "/64", "dev", "eth0", "nodad"},
		{"-n", ns, "route", "replace", "default", "via", gw4},
		{"-n", ns, "-6", "route", "replace", "default", "via", gw6},
	} {
		var err error
		for range 50 { // the link's own routes come back a moment after it is up
			if err = run("ip", args...); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			return err
		}
	}
	return l.Start(site)
}

// BlackholeHubs drops, in every hub's namespace, every packet into and out
// of its public link (on), or lifts that (off): the hubs are up but
// nothing reaches them. One nftables batch per hub, from this process.
func (l *Lab) BlackholeHubs(on bool) error {
	for _, site := range l.HubSites() {
		var err error
		if on {
			err = Blackhole(l.NS(site), "eth0")
		} else {
			err = Unblackhole(l.NS(site))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
