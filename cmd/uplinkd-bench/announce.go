package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/uplinkd/uplinkd/internal/daemon"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
)

// Row 5 runs in two namespaces of its own: the speaker (uplinkd's announcer,
// then ExaBGP) in ubn-anna dials the receiver, BIRD 2 in ubn-annb.
const (
	annSpeakerNS   = "ubn-anna"
	annReceiverNS  = "ubn-annb"
	annSpeaker     = "198.18.202.1"
	annReceiver    = "198.18.202.2"
	annSpeakerASN  = 64512
	annReceiverASN = 65010
	// annNextHop is on the veth's subnet: BIRD drops an eBGP route whose
	// next hop is not on a connected network.
	annNextHop = "198.18.202.254"
	annProto   = "speaker" // BIRD's name for the session
)

// annReceiverConf: BIRD holds what it is sent and touches no kernel table.
var annReceiverConf = fmt.Sprintf(`router id %s;
log stderr { warning, error, fatal };
protocol device { }
protocol bgp %s {
	local %s as %d;
	neighbor %s as %d;
	passive on;
	ipv4 { import all; export none; };
}
`, annReceiver, annProto, annReceiver, annReceiverASN, annSpeaker, annSpeakerASN)

// announceResult is one speaker's run: start → the receiver holds every
// prefix, the part of it after the session came up, and peak RSS.
type announceResult struct {
	took, afterUp       time.Duration
	speakerHWM, birdHWM int64
	speakerErr, birdErr error
}

// announceRows: row 5. The same n prefixes (spread evenly over the 998 k
// RouteViews table; all of it by default) announced to one BIRD 2
// receiver, first by uplinkd's announcer (internal/ecmp/bgp, in a process
// of its own), then by BIRD 2 as the speaker (a static protocol), then by
// ExaBGP from Debian, each against a fresh BIRD receiver.
func announceRows(ctx context.Context, o options) []row {
	const id = "5"
	name := "BGP announce vs BIRD and ExaBGP"
	if _, err := exec.LookPath("exabgp"); err != nil {
		return []row{notMeasured(id, name, "exabgp is not installed (apt-get install -y --no-install-recommends exabgp)")}
	}
	all, err := loadPrefixes(o.pfx2as)
	if err != nil {
		return []row{failed(id, name, err)}
	}
	ps := spread(all, o.announceN)
	dir, removeDir, err := tempDir("uplinkd-bench-announce")
	if err != nil {
		return []row{failed(id, name, err)}
	}
	defer removeDir()
	remove, err := nsPair(annSpeakerNS, annReceiverNS, "ana0", "anb0", annSpeaker+"/24", annReceiver+"/24")
	if err != nil {
		return []row{failed(id, name, err)}
	}
	defer remove()

	uplinkd := func(dir string, ps []netip.Prefix) (*exec.Cmd, error) {
		return uplinkdSpeaker(dir, ps, o.speakerProfile)
	}
	speakers := []struct {
		who  string
		make func(string, []netip.Prefix) (*exec.Cmd, error)
	}{{"uplinkd", uplinkd}, {"BIRD", birdSpeaker}, {"ExaBGP", exabgpSpeaker}}
	var res []announceResult
	for _, sp := range speakers {
		cmd, err := sp.make(dir, ps)
		if err != nil {
			return []row{failed(id, name, err)}
		}
		logf("announce: %s, %d prefixes", sp.who, len(ps))
		r, err := announceOnce(ctx, dir, cmd, len(ps))
		if err != nil {
			return []row{failed(id, name, fmt.Errorf("%s: %w", sp.who, err))}
		}
		res = append(res, r)
	}
	return announceTable(len(ps), len(all), res[0], res[1], res[2])
}

// announceGoal* are issue 18's: at most BIRD's time, under a third of
// ExaBGP's, and the speaker's peak RSS within 512 MiB.
const (
	announceGoalBIRD   = 1.0
	announceGoalExaBGP = 0.3
	announceGoalRSS    = 512 << 20
)

// announceTable turns the three runs into two time rows and the memory row.
func announceTable(n, total int, u, b, e announceResult) []row {
	what := fmt.Sprintf("%d of the %d RouteViews prefixes (spread)", n, total)
	if n == total {
		what = fmt.Sprintf("all %d RouteViews prefixes", n)
	}
	took := func(r announceResult) string {
		return fmt.Sprintf("%s (%s after session up)", ms(r.took), ms(r.afterUp))
	}
	vsBIRD := u.took.Seconds() / b.took.Seconds()
	vsExa := u.took.Seconds() / e.took.Seconds()
	birdRow := row{id: "5a", name: "BGP announce: " + what + " to one BIRD 2, speaker start → all held (peer: BIRD 2 as the speaker, static protocol, connect delay 1 s)",
		uplinkd: took(u), peer: took(b),
		ratio: fmt.Sprintf("%.2f; goal ≤ %.1f", vsBIRD, announceGoalBIRD), verdict: verdict(vsBIRD <= announceGoalBIRD)}
	exaRow := row{id: "5b", name: "BGP announce: the same, against " + exabgpVersion() + " as the speaker (static routes, group-updates)",
		uplinkd: took(u), peer: took(e),
		ratio: fmt.Sprintf("%.2f; goal ≤ %.1f", vsExa, announceGoalExaBGP), verdict: verdict(vsExa <= announceGoalExaBGP)}
	memRow := row{id: "5c", name: fmt.Sprintf("BGP announce: peak RSS of the speaker process (and the receiving BIRD's), %d prefixes; peer: BIRD / ExaBGP as speakers", n),
		uplinkd: peakCell(u), peer: peakCell(b) + " / " + peakCell(e), verdict: "info"}
	if u.speakerErr == nil {
		memRow.ratio = fmt.Sprintf("%.2f of goal 512 MiB", float64(u.speakerHWM)/float64(announceGoalRSS))
		memRow.verdict = verdict(u.speakerHWM <= announceGoalRSS)
	}
	return []row{birdRow, exaRow, memRow}
}

func peakCell(r announceResult) string {
	s, b := "?", "?"
	if r.speakerErr == nil {
		s = mib(r.speakerHWM)
	}
	if r.birdErr == nil {
		b = mib(r.birdHWM)
	}
	return fmt.Sprintf("%s (receiver %s)", s, b)
}

// spread picks n prefixes evenly over all of them (all when n ≤ 0 or
// n ≥ len(all)).
func spread(all []netip.Prefix, n int) []netip.Prefix {
	if n <= 0 || n >= len(all) {
		return all
	}
	out := make([]netip.Prefix, n)
	for i := range out {
		out[i] = all[i*len(all)/n]
	}
	return out
}

// announceOnce starts a fresh BIRD receiver, then the speaker, and polls
// BIRD every 100 ms until it holds n routes. The clock starts just before
// the speaker's process does: each reads its prefixes (a list file, a
// config) and opens its session inside the figure.
func announceOnce(ctx context.Context, dir string, speaker *exec.Cmd, n int) (announceResult, error) {
	var r announceResult
	b, err := startBird(annReceiverNS, dir, annReceiverConf)
	if err != nil {
		return r, err
	}
	defer b.stop()
	t0 := time.Now()
	sp, err := startChild(speaker)
	if err != nil {
		return r, err
	}
	defer sp.stop()
	limit := 2*time.Minute + time.Duration(n)*time.Millisecond
	var up time.Time
	held, last := false, 0
	for time.Since(t0) < limit && ctx.Err() == nil && sp.alive() {
		got, established, err := b.imported(annProto)
		now := time.Now()
		if err == nil && established && up.IsZero() {
			up = now
		}
		if err == nil && got == n {
			r.took, r.afterUp, held = now.Sub(t0), now.Sub(up), true
			break
		}
		last = got
		time.Sleep(100 * time.Millisecond)
	}
	if !held {
		return r, fmt.Errorf("BIRD holds %d of %d routes after %s (speaker alive %v): %.300s",
			last, n, time.Since(t0).Round(time.Second), sp.alive(), sp.logs.String())
	}
	r.speakerHWM, r.speakerErr = sp.peak()
	r.birdHWM, r.birdErr = b.peak()
	logf("announce: %d held after %s (%s after session up); speaker %s, BIRD %s", n, r.took, r.afterUp, mib(r.speakerHWM), mib(r.birdHWM))
	return r, nil
}

// birdSpeaker writes BIRD 2's config for the same announcement (every
// prefix a static route, exported to the receiver) and returns the command
// that runs it in the foreground in the speaker's namespace. BIRD waits
// its connect delay before the first connect (5 s by default): it is set
// to its least, 1 s (fixed, not random), as a user after a fast start
// would set it.
func birdSpeaker(dir string, ps []netip.Prefix) (*exec.Cmd, error) {
	conf := filepath.Join(dir, "bird-speaker.conf")
	err := writeConf(conf, func(w *bufio.Writer) {
		fmt.Fprintf(w, `router id %s;
log stderr { warning, error, fatal };
protocol device { }
protocol static announced {
	ipv4;
`, annSpeaker)
		for _, p := range ps {
			fmt.Fprintf(w, "\troute %s via %s;\n", p, annNextHop)
		}
		fmt.Fprintf(w, `}
protocol bgp %s {
	local %s as %d;
	neighbor %s as %d;
	connect delay time 1;
	ipv4 { import none; export all; };
}
`, annProto, annSpeaker, annSpeakerASN, annReceiver, annReceiverASN)
	})
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "bird-speaker.ctl")
	return exec.Command("ip", "netns", "exec", annSpeakerNS, "bird", "-f", "-c", conf, "-s", sock), nil
}

// writeConf writes a speaker's config file through a buffer: a million
// route lines.
func writeConf(path string, fill func(w *bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fill(w)
	return errors.Join(w.Flush(), f.Close())
}

// uplinkdSpeaker writes the prefixes one per line and returns the bench
// itself re-run as -speak inside the speaker namespace: GoBGP dials from
// threads of its own, so it must run in a process that lives there.
func uplinkdSpeaker(dir string, ps []netip.Prefix, profile string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	list := filepath.Join(dir, "prefixes.txt")
	var b strings.Builder
	b.Grow(len(ps) * 18)
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	if err := os.WriteFile(list, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	args := []string{"netns", "exec", annSpeakerNS, self, "-speak", list}
	if profile != "" {
		args = append(args, "-speaker-profile", profile)
	}
	return exec.Command("ip", args...), nil
}

// exabgpSpeaker writes ExaBGP's config: one neighbor with every prefix as a
// static route (its fastest way to announce a fixed set here: routes
// sharing attributes are packed into few UPDATEs, group-updates), and
// returns the command that runs it in the foreground as root.
func exabgpSpeaker(dir string, ps []netip.Prefix) (*exec.Cmd, error) {
	conf := filepath.Join(dir, "exabgp.conf")
	err := writeConf(conf, func(w *bufio.Writer) {
		fmt.Fprintf(w, `neighbor %s {
	router-id %s;
	local-address %s;
	local-as %d;
	peer-as %d;
	group-updates true;
	family { ipv4 unicast; }
	static {
`, annReceiver, annSpeaker, annSpeaker, annSpeakerASN, annReceiverASN)
		for _, p := range ps {
			fmt.Fprintf(w, "\t\troute %s next-hop %s;\n", p, annNextHop)
		}
		fmt.Fprint(w, "\t}\n}\n")
	})
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("ip", "netns", "exec", annSpeakerNS, "exabgp", conf)
	// Stay root (Debian's default drops to user exabgp, which cannot read
	// the bench's 0700 temp dir); no CLI pipes; no daemonising.
	cmd.Env = append(os.Environ(), "exabgp_daemon_user=root", "exabgp_daemon_daemonize=false",
		"exabgp_api_cli=false", "exabgp_log_destination=stdout")
	return cmd, nil
}

func exabgpVersion() string {
	out, err := exec.Command("exabgp", "--version").Output()
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "ExaBGP" {
				return "ExaBGP " + f[2]
			}
		}
	}
	return "ExaBGP"
}

// speak is the -speak mode: uplinkd's announcer in this process, the
// prefixes of list announced to row 5's receiver, until SIGTERM. It
// collects garbage as the daemon does (GOGC 50 unless the environment
// sets one): at Go's 100 row 5's time and peak RSS would be another
// program's. With a profile directory it writes its CPU profile and its
// allocations (sampled every 64 KiB) there when it ends.
func speak(list, profile string) int {
	daemon.SetGCPercent(slog.New(slog.DiscardHandler))
	if profile != "" {
		stop, err := startProfiles(profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "uplinkd-bench -speak:", err)
			return 1
		}
		defer stop()
	}
	ps, err := readPrefixList(list)
	if err == nil {
		err = announceUntilSignal(ps)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "uplinkd-bench -speak:", err)
		return 1
	}
	return 0
}

// startProfiles starts the CPU profile into dir/speaker.cpu; stop ends it
// and writes the allocations to dir/speaker.allocs.
func startProfiles(dir string) (stop func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cpu, err := os.Create(filepath.Join(dir, "speaker.cpu"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, err
	}
	runtime.MemProfileRate = 64 << 10
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		f, err := os.Create(filepath.Join(dir, "speaker.allocs"))
		if err == nil {
			err = errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "uplinkd-bench -speak: allocation profile:", err)
		}
	}, nil
}

func readPrefixList(path string) ([]netip.Prefix, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Fields(string(body))
	ps := make([]netip.Prefix, 0, len(lines))
	for _, l := range lines {
		p, err := netip.ParsePrefix(l)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// announceUntilSignal does what the daemon's announce loop does with a new
// breakout set: Start, then one Set with the gateway as next hop.
func announceUntilSignal(ps []netip.Prefix) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	ctx := context.Background()
	a := bgp.NewAnnouncer(nil)
	local := netip.MustParseAddr(annSpeaker)
	c := bgp.AnnouncerConfig{ASN: annSpeakerASN, RouterID: local,
		Peers: []bgp.Peer{{Name: "receiver", Address: netip.MustParseAddr(annReceiver), Local: local, ASN: annReceiverASN}}}
	if err := a.Start(ctx, c); err != nil {
		return err
	}
	defer a.Stop(ctx)
	if _, _, err := a.Set(ctx, ps, netip.MustParseAddr(annNextHop), netip.Addr{}); err != nil {
		return err
	}
	<-sigs
	return nil
}
