// Command uplinkd-bench measures uplinkd against its peers, side by side in
// one run, and prints one table (see BENCHMARKS.md and `make bench`).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the bench's flags.
type options struct {
	binary  string
	n       int
	pfx2as  string
	skipLab bool
	// skipInstall leaves out row 4 (about two minutes).
	skipInstall bool
	// skipAnnounce leaves out row 5; announceN is its prefix count.
	skipAnnounce bool
	announceN    int
	// nSlow is the iterations of the failover rows without BFD (3 s hold).
	nSlow int
	// labRows chooses the lab's rows (the lab itself, row 7, always runs).
	labRows string
	verbose bool
	// keepLogs is a directory the lab's daemon logs are copied to before
	// the lab is torn down ("": not kept).
	keepLogs string
	// speak is set in the bench's own child process that runs uplinkd's
	// announcer for row 5 inside its namespace.
	speak string
	// speakerProfile is a directory for the row 5 speaker's CPU and
	// allocation profiles ("": none).
	speakerProfile string
}

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "", "uplinkd binary the lab runs (built into a temporary directory when empty)")
	flag.IntVar(&o.n, "n", 100, "failover iterations per fault kind (rows 1a-1d; the other lab rows take 20 to 40 at most)")
	flag.StringVar(&o.pfx2as, "pfx2as", "internal/breakout/testdata/bgp-caida-routeviews-prefix2as-v4-20240406.pfx2as.gz", "RouteViews prefix-to-AS table")
	flag.BoolVar(&o.skipLab, "no-lab", false, "leave out the lab rows (1-3, 6-8)")
	flag.BoolVar(&o.skipInstall, "no-install", false, "leave out the install rows")
	flag.BoolVar(&o.skipAnnounce, "no-announce", false, "leave out the BGP announce rows (uplinkd vs BIRD and ExaBGP)")
	flag.IntVar(&o.announceN, "announce-prefixes", 0, "prefixes announced in row 5, spread over the RouteViews table; 0 (the default) for all 998042 of it, about 3 minutes with ExaBGP")
	flag.IntVar(&o.nSlow, "n-slow", 10, "failover iterations per fault kind with BFD off (BGP hold 3 s), uplinkd and BIRD")
	flag.StringVar(&o.labRows, "lab-rows", "all", "the lab rows to run, comma-separated: 1 (BFD failover and BIRD), 1slow (BFD off, hold 3 s, and BIRD), 2, 3, 6, 8, 9 (two hubs: hub cut, last resort), 10 (published stream and throughput), 11 (SLA steering: delay, and goodput of a throttled carrier), 12 (frugal liveness: idle cost, busy/idle/new-flow failovers); row 7 always runs")
	flag.BoolVar(&o.verbose, "v", false, "progress on stderr")
	flag.StringVar(&o.keepLogs, "keep-logs", "", "copy the lab's daemon logs into this directory before the lab goes (to read a row's outliers against the daemons' own lines)")
	flag.StringVar(&o.speak, "speak", "", "internal: run uplinkd's announcer on the prefix list in this file (row 5 starts it in its namespace)")
	flag.StringVar(&o.speakerProfile, "speaker-profile", "", "write the CPU and allocation profiles of row 5's speaker (uplinkd's announcer) into this directory: speaker.cpu, speaker.allocs (go tool pprof)")
	flag.Parse()
	if o.speak != "" {
		os.Exit(speak(o.speak, o.speakerProfile))
	}
	if err := checkLabRows(o.labRows); err != nil {
		fmt.Fprintln(os.Stderr, "uplinkd-bench:", err)
		os.Exit(2)
	}
	os.Exit(run(o))
}

// checkLabRows refuses a -lab-rows list naming no known row, which would
// silently run none.
func checkLabRows(list string) error {
	if list == "all" {
		return nil
	}
	for _, part := range strings.Split(list, ",") {
		if !slices.Contains([]string{"1", "1slow", "2", "3", "6", "8", "9", "10", "11", "12"}, part) {
			return fmt.Errorf("-lab-rows: unknown row %q (known: 1, 1slow, 2, 3, 6, 8, 9, 10, 11, or all)", part)
		}
	}
	return nil
}

// logw is where progress goes: stderr with -v, nowhere otherwise.
var logw io.Writer = io.Discard

func logf(format string, args ...any) {
	fmt.Fprintf(logw, "%s bench: "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

func run(o options) int {
	if o.verbose {
		logw = os.Stderr
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "uplinkd-bench needs root: it builds network namespaces (sudo make bench)")
		return 2
	}
	ctx := context.Background()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		cleanupAll()
		fmt.Fprintf(os.Stderr, "uplinkd-bench: %v: namespaces and daemons removed\n", s)
		os.Exit(130)
	}()
	defer cleanupAll()

	t := &table{}
	start := time.Now()
	if o.skipInstall {
		t.add(notMeasured("4", "install rows", "-no-install given"))
	} else {
		t.add(installRows(ctx, o)...)
	}
	if o.skipAnnounce {
		t.add(notMeasured("5", "BGP announce vs BIRD and ExaBGP", "-no-announce given"))
	} else {
		t.add(announceRows(ctx, o)...)
	}
	if o.skipLab {
		t.add(notMeasured("1-3,6-8", "lab rows", "-no-lab given"))
	} else {
		bin, err := binary(o.binary)
		if err != nil {
			t.add(failed("1-3,6-8", "lab rows", err))
		} else {
			t.add(labRows(ctx, o, bin)...)
		}
	}
	t.sort()
	t.print(os.Stdout)
	fmt.Printf("\n(one run, %s, %s)\n", time.Since(start).Round(time.Second), time.Now().UTC().Format(time.RFC3339))
	if t.failed() {
		return 1
	}
	return 0
}

// binary returns an absolute path to the uplinkd binary, building it when
// none is given.
func binary(path string) (string, error) {
	if path != "" {
		return filepath.Abs(path)
	}
	dir, err := os.MkdirTemp("", "uplinkd-bench")
	if err != nil {
		return "", err
	}
	os.Chmod(dir, 0o755)
	addCleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "uplinkd")
	logf("building %s", bin)
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/uplinkd/uplinkd/cmd/uplinkd").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build uplinkd: %v: %s", err, out)
	}
	return bin, nil
}
