package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/lab"
)

func main() { os.Exit(run()) }

type options struct {
	binary     string
	load       time.Duration // faults and traffic
	warmup     time.Duration // the baseline is taken at its end
	every      time.Duration // sample interval
	flaps      int           // per uplink per window
	flapWindow time.Duration
	feedEvery  time.Duration
	growth     float64 // allowed growth over the baseline, in percent
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.binary, "binary", "bin/uplinkd", "the uplinkd binary the lab's daemons run")
	flag.DurationVar(&o.load, "duration", 9*time.Minute, "how long flaps, feed updates and traffic run")
	flag.DurationVar(&o.warmup, "warmup", 150*time.Second, "load before the baseline footprint is taken (long enough for every feed fault once)")
	flag.DurationVar(&o.every, "every", 30*time.Second, "how often a sample line is printed")
	flag.IntVar(&o.flaps, "flaps", 100, "flaps of each uplink per window")
	flag.DurationVar(&o.flapWindow, "flap-window", 60*time.Second, "the window of -flaps flaps (a quiet 10 s follows each)")
	flag.DurationVar(&o.feedEvery, "feed-every", 10*time.Second, "how often the test source moves to its next good version or fault")
	flag.Float64Var(&o.growth, "growth", 20, "allowed growth of RSS and threads over the baseline, in percent")
	flag.Parse()
	return o
}

func run() int {
	o := parseFlags()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "uplinkd-soak needs root: it builds network namespaces (sudo make soak)")
		return 2
	}
	bin, err := filepath.Abs(o.binary)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "uplinkd binary: %v (make build)\n", err)
		return 2
	}
	// Signals are caught until the lab is down (stop runs last).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	l := lab.New(lab.Options{Tag: "s", Binary: bin})
	defer func() {
		if err := l.Down(); err != nil {
			fmt.Fprintf(os.Stderr, "lab down: %v\n", err)
		} else {
			fmt.Println("soak: lab torn down")
		}
	}()
	start := time.Now()
	if err := l.Up(ctx, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "lab up: %v\n", err)
		return 1
	}
	fmt.Printf("soak: lab up in %s\n", time.Since(start).Round(time.Millisecond))
	s := &soak{o: o, l: l, api: api.NewClient(l.Socket("edge"))}
	if err := s.run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		fmt.Fprintf(os.Stderr, "--- edge log ends:\n%s\n", lab.Tail(l.LogPath("edge"), 30))
		return 1
	}
	return 0
}

// soak is one run: its load, its counters and its samples.
type soak struct {
	o    options
	l    *lab.Lab
	feed *lab.FaultFeed
	// One client for the whole run: a client per call leaves an idle
	// keep-alive connection, and a goroutine serving it, in the daemon.
	api   *api.Client
	conf  string // the edge config the test source is appended to
	start time.Time

	harnessErrs atomic.Int64 // the soak's own steps failing (ip, reload, status)
	flapRounds  atomic.Int64
	feedMoves   atomic.Int64
	udpSent     atomic.Int64
	udpFailed   atomic.Int64
	tcpOK       atomic.Int64
	tcpFailed   atomic.Int64
	mu          sync.Mutex
	lastErr     string
}

func (s *soak) harness(err error) {
	if err == nil {
		return
	}
	s.harnessErrs.Add(1)
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
}

// sample is one line of the report.
type sample struct {
	at        time.Duration
	fp        lab.ProcStatus
	routes    int // uplinkd's routes in the edge namespace, both families, all tables
	nexthops  int // nexthop objects
	breakout  int // installed breakout routes, from status
	logErrors int // level=ERROR lines in the edge log
	logWarns  int
}

func (s *soak) run(ctx context.Context) error {
	if err := s.l.WaitRouting(ctx, 30*time.Second); err != nil {
		return err
	}
	feed, err := s.l.StartFaultFeed("web", lab.WebAddr)
	if err != nil {
		return err
	}
	defer feed.Close()
	s.feed = feed
	orig, err := os.ReadFile(s.l.ConfigPath("edge"))
	if err != nil {
		return err
	}
	if s.conf, err = lab.WithFetchTimeout(string(orig), 2); err != nil {
		return err
	}
	if err := s.pointSource(feed.URL("good/0")); err != nil {
		return err
	}
	if err := s.waitSettled(ctx, 30*time.Second); err != nil {
		return fmt.Errorf("before the load: %w", err)
	}
	rest, err := s.take()
	if err != nil {
		return err
	}
	fmt.Printf("soak: at rest before the load: %s\n", rest.line())
	fmt.Printf("soak: %s of load: each uplink flapped %d times per %s, the test feed moved every %s (good versions and %s in turn), UDP and TCP from ul-lan to ul-web; a line every %s\n",
		s.o.load, s.o.flaps, s.o.flapWindow, s.o.feedEvery, strings.Join(lab.FeedFaults, ", "), s.o.every)
	fmt.Println("ELAPSED  RSS(MiB)  THREADS  GOROUTINES  HEAP(MiB)  FIB-ROUTES  NEXTHOPS  BREAKOUT  DAEMON-ERR/WARN  HARNESS-ERR  FLAPS  FEED  UDP(fail)  TCP(fail)")

	s.start = time.Now()
	loadCtx, cancel := context.WithTimeout(ctx, s.o.load)
	defer cancel()
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){s.flapLoop, s.feedLoop, s.udpLoop, s.tcpLoop} {
		wg.Go(func() { f(loadCtx) })
	}
	baseline, crash := s.report(loadCtx)
	cancel() // a crash ends the load at once
	wg.Wait()
	if crash != nil {
		return crash
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return s.verdict(ctx, rest, baseline)
}

// report prints a sample every interval until ctx ends and returns the
// one taken at the end of the warm-up (the baseline).
func (s *soak) report(ctx context.Context) (sample, error) {
	var baseline sample
	t := time.NewTicker(s.o.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return baseline, nil
		case <-t.C:
		}
		sm, err := s.take()
		if err != nil {
			return baseline, fmt.Errorf("edge daemon: %w", err)
		}
		fmt.Println(s.row(sm))
		// A sample with a reading missing (the metrics scrape failed) is no
		// baseline: the next complete one is.
		if !measured(baseline.fp) && sm.at >= s.o.warmup && measured(sm.fp) {
			baseline = sm
			fmt.Printf("         (baseline after the %s warm-up: %s)\n", s.o.warmup, sm.fp)
		}
	}
}

func (s *soak) row(sm sample) string {
	return fmt.Sprintf("%7s  %8.1f  %7d  %10d  %9.1f  %10d  %8d  %8d  %15s  %11d  %5d  %4d  %9s  %9s",
		sm.at.Round(time.Second), mib(sm.fp.RSSKiB), sm.fp.Threads, sm.fp.Goroutines, mib(sm.fp.HeapKiB), sm.routes, sm.nexthops, sm.breakout,
		fmt.Sprintf("%d/%d", sm.logErrors, sm.logWarns), s.harnessErrs.Load(), s.flapRounds.Load(), s.feedMoves.Load(),
		fmt.Sprintf("%d(%d)", s.udpSent.Load(), s.udpFailed.Load()), fmt.Sprintf("%d(%d)", s.tcpOK.Load()+s.tcpFailed.Load(), s.tcpFailed.Load()))
}

func (sm sample) line() string {
	return fmt.Sprintf("%s, %d FIB routes, %d nexthop objects, %d breakout routes",
		sm.fp, sm.routes, sm.nexthops, sm.breakout)
}

func mib(kib int) float64 { return float64(kib) / 1024 }

func (s *soak) take() (sample, error) {
	sm := sample{at: time.Since(s.start)}
	if s.start.IsZero() {
		sm.at = 0
	}
	var err error
	if sm.fp, err = s.l.Footprint("edge"); err != nil {
		return sm, err
	}
	home := s.l.NS("home")
	// Only uplinkd's routes (protocol 211): the kernel's own link-local
	// and local routes come and go with carriers and address detection.
	for _, fam := range []string{"-4", "-6"} {
		out, err := exec.Command("ip", "-n", home, fam, "route", "show", "table", "all", "proto", "211").Output()
		s.harness(err)
		sm.routes += countLines(string(out))
	}
	out, err := exec.Command("ip", "-n", home, "nexthop", "show").Output()
	s.harness(err)
	sm.nexthops = countLines(string(out))
	if st, err := s.api.Status(); err != nil {
		s.harness(err)
	} else if st.Breakout != nil {
		sm.breakout = st.Breakout.Compile.Installed
	}
	b, _ := os.ReadFile(s.l.LogPath("edge"))
	sm.logErrors = strings.Count(string(b), "level=ERROR")
	sm.logWarns = strings.Count(string(b), "level=WARN")
	return sm, nil
}

// countLines counts the lines of an ip listing (continuation lines of a
// multipath route, which start with blanks, belong to their route).
func countLines(out string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if line != "" && line[0] != ' ' && line[0] != '\t' {
			n++
		}
	}
	return n
}

func (s *soak) flapLoop(ctx context.Context) {
	for round := int64(0); ctx.Err() == nil; round++ {
		s.harness(s.l.Flap(ctx, s.o.flaps, s.o.flapWindow, time.Now().UnixNano()))
		s.flapRounds.Add(1)
		select { // a quiet spell: the FIB must come back whole between rounds
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
}

// feedLoop moves the test source along good versions and faults in turn:
// good/1, 500, good/2, empty, good/3, …
func (s *soak) feedLoop(ctx context.Context) {
	t := time.NewTicker(s.o.feedEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		path := fmt.Sprintf("good/%d", i/2+1)
		if i%2 == 1 {
			path = lab.FeedFaults[(i/2)%len(lab.FeedFaults)]
		}
		s.harness(s.pointSource(s.feed.URL(path)))
		s.feedMoves.Add(1)
	}
}

func (s *soak) pointSource(url string) error {
	if err := os.WriteFile(s.l.ConfigPath("edge"), []byte(s.conf+lab.FaultSourceConfig("soak", url)), 0o644); err != nil {
		return err
	}
	return s.l.Reload("edge")
}

// udpLoop sends bursts of one-datagram flows from ul-lan to ul-web; a
// send the kernel refuses (no route while every tunnel is down) counts as
// failed, which flaps make expected.
func (s *soak) udpLoop(ctx context.Context) {
	for ctx.Err() == nil {
		for range 50 {
			c, err := s.l.DialFrom("lan", "udp", net.JoinHostPort(lab.WebAddr, fmt.Sprint(lab.WhoAmIPort)), time.Second)
			if err == nil {
				_, err = c.Write([]byte("soak"))
				c.Close()
			}
			s.udpSent.Add(1)
			if err != nil {
				s.udpFailed.Add(1)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tcpLoop asks ul-web who it sees, once a second.
func (s *soak) tcpLoop(ctx context.Context) {
	for ctx.Err() == nil {
		if seen, err := s.l.WhoAmI("lan", lab.WebAddr); err == nil && seen == lab.HubPublic {
			s.tcpOK.Add(1)
		} else {
			s.tcpFailed.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// waitSettled waits until the edge routes over every tunnel with every
// breakout source fresh and the ECMP routes exact.
func (s *soak) waitSettled(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		why := s.unsettled()
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not settled within %s: %s", limit, why)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *soak) unsettled() string {
	st, err := s.api.Status()
	if err != nil {
		return err.Error()
	}
	if st.ECMP == nil {
		return "no ECMP status"
	}
	for _, p := range []string{"0.0.0.0/0", "::/0"} {
		ok := false
		for _, r := range st.ECMP.Routes {
			ok = ok || (r.Prefix == p && len(r.NextHops) == len(lab.Carriers))
		}
		if !ok {
			return p + " not over every tunnel"
		}
	}
	if st.Breakout == nil {
		return "no breakout status"
	}
	for _, src := range st.Breakout.Sources {
		if src.LastSuccess.IsZero() || src.Stale {
			return "breakout source " + src.Name + " not fresh: " + src.LastError
		}
	}
	if seen, err := s.l.WhoAmI("lan", lab.WebAddr); err != nil || seen != lab.HubPublic {
		return fmt.Sprintf("ul-web sees %q (%v)", seen, err)
	}
	return ""
}

// verdict ends the load (the test source on a good version), waits for the
// edge to settle and compares its footprint and FIB with the baseline.
func (s *soak) verdict(ctx context.Context, rest, baseline sample) error {
	if err := s.pointSource(s.feed.URL("good/0")); err != nil {
		return err
	}
	if err := s.waitSettled(ctx, 60*time.Second); err != nil {
		return fmt.Errorf("after the load: %w", err)
	}
	if baseline.fp.RSSKiB == 0 {
		baseline = rest
		fmt.Println("soak: no complete sample after the warm-up: comparing with the footprint at rest before the load")
	}
	// The Go runtime hands freed memory back over minutes (a leak never
	// does): wait, bounded, for the footprint to come back within limit.
	var end sample
	deadline := time.Now().Add(90 * time.Second)
	for {
		var err error
		if end, err = s.take(); err != nil {
			return err
		}
		if len(growthFailures(baseline.fp, end.fp, s.o.growth)) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-time.After(5 * time.Second):
		}
	}
	fmt.Println(s.row(end))
	fmt.Printf("soak: at rest after the load: %s\n", end.line())
	fails := growthFailures(baseline.fp, end.fp, s.o.growth)
	if end.routes != rest.routes || end.nexthops != rest.nexthops || end.breakout != rest.breakout {
		fails = append(fails, fmt.Sprintf("FIB not back to its size at rest: %d routes, %d nexthops, %d breakout (was %d, %d, %d)",
			end.routes, end.nexthops, end.breakout, rest.routes, rest.nexthops, rest.breakout))
	}
	if end.logErrors > rest.logErrors {
		fails = append(fails, fmt.Sprintf("the edge logged %d errors", end.logErrors-rest.logErrors))
	}
	if n := s.harnessErrs.Load(); n > 0 {
		s.mu.Lock()
		fails = append(fails, fmt.Sprintf("%d of the soak's own steps failed, the last: %s", n, s.lastErr))
		s.mu.Unlock()
	}
	fmt.Printf("soak: RSS %.1f MiB → %.1f MiB (%+.1f%%), threads %d → %d (%+.1f%%), goroutines %d → %d against the baseline after warm-up; limit +%.0f%%\n",
		mib(baseline.fp.RSSKiB), mib(end.fp.RSSKiB), pct(baseline.fp.RSSKiB, end.fp.RSSKiB),
		baseline.fp.Threads, end.fp.Threads, pct(baseline.fp.Threads, end.fp.Threads),
		baseline.fp.Goroutines, end.fp.Goroutines, s.o.growth)
	if len(fails) > 0 {
		return fmt.Errorf("FAIL: %s", strings.Join(fails, "; "))
	}
	fmt.Println("soak: PASS: no growth beyond the limit, FIB back to its size at rest, no daemon errors")
	return nil
}

// measured reports whether every reading of a footprint was taken:
// lab.ProcStatus marks a reading it could not take as -1, and a zero is
// no reading either (a live Go daemon has RSS, threads and goroutines).
func measured(p lab.ProcStatus) bool {
	return p.RSSKiB > 0 && p.Threads > 0 && p.Goroutines > 0
}

// growthFailures compares a footprint with its baseline: each reading that
// grew over growth percent is a failure, and so is each reading that could
// not be taken on either side, since a leak check that cannot measure
// must not pass.
func growthFailures(base, now lab.ProcStatus, growth float64) []string {
	limit := 1 + growth/100
	var fails []string
	check := func(what string, b, n int, valid func(int) bool, show func(int) string) {
		switch {
		case !valid(b):
			fails = append(fails, fmt.Sprintf("%s of the baseline could not be measured, so its growth cannot be checked", what))
		case !valid(n):
			fails = append(fails, fmt.Sprintf("%s at the end could not be measured, so its growth cannot be checked", what))
		case float64(n) > float64(b)*limit:
			fails = append(fails, fmt.Sprintf("%s grew from %s to %s (over +%.0f%%)", what, show(b), show(n), growth))
		}
	}
	positive := func(v int) bool { return v > 0 }
	count := func(v int) string { return fmt.Sprint(v) }
	check("goroutines", base.Goroutines, now.Goroutines, positive, count)
	check("RSS", base.RSSKiB, now.RSSKiB, positive, func(v int) string { return fmt.Sprintf("%.1f MiB", mib(v)) })
	check("threads", base.Threads, now.Threads, positive, count)
	return fails
}

func pct(from, to int) float64 { return 100 * float64(to-from) / float64(from) }
