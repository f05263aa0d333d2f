package solo

import (
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/fib"
)

// The desired sets of the crash test: a million IPv4 /24s that do not
// aggregate (every other /24 from 32.0.0.0), so the table holds exactly as
// many routes as the feed lists.
const bigN = 1 << 20

// bigSets are set A (the killed run's) and set B, A less every 16th
// prefix, spread over the whole range so that any partly installed table
// holds some, plus as many new ones above A. B against A deletes 6 %: well
// under the churn limit whatever share of A a crash left.
var bigSets = sync.OnceValues(func() (a, b []netip.Prefix) {
	for i := range bigN {
		a = append(a, slash24(i))
		if i%16 != 0 {
			b = append(b, slash24(i))
		}
	}
	for i := bigN; i < bigN+bigN/16; i++ {
		b = append(b, slash24(i))
	}
	return a, b
})

var bigBodies = sync.OnceValue(func() map[string][]byte {
	a, b := bigSets()
	return map[string][]byte{"/a": listBody(a), "/b": listBody(b)}
})

// bigFeed serves A at /a and B at /b from inside the namespace.
func bigFeed(s *solo) {
	bodies := bigBodies()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	})}
	ln := s.listen()
	go srv.Serve(ln)
	s.t.Cleanup(func() { srv.Close() })
}

// bigConfig writes a config whose one source is the named big set.
func bigConfig(s *solo, source, path string) {
	// 1 M lines are 14 MB; the default cap is 32 MB, raised for headroom.
	s.writeConfig("max_feed_mb = 64\nfetch_timeout = 60", urlSource(source, path))
}

// SIGKILL in the middle of a 1 M-prefix breakout install, then a restart:
// the table ends holding exactly the desired set, each prefix once, one
// rule per family, nothing of the killed run's left. Restarted with the
// same set, the new run adopts what the killed one installed and adds the
// rest; restarted with another set (the source replaced while the daemon
// was down), the killed run's routes that the new set lacks are removed.
func TestKillMidInstallThenRestart(t *testing.T) {
	a, b := bigSets()
	for _, tt := range []struct {
		name      string
		source    string // the restarted run's source
		path      string
		want      []netip.Prefix
		wantStale bool // the killed run must have left routes the restart removes
	}{
		{name: "same set", source: "big-a", path: "a", want: a},
		{name: "shifted set", source: "big-b", path: "b", want: b, wantStale: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSolo(t)
			bigFeed(s)
			bigConfig(s, "big-a", "a")
			t0 := time.Now()
			s.start()
			killed := killMidInstall(t, s, len(a))
			t1 := time.Now()
			left := s.uplinkdRoutes()
			stale := countNotIn(left, tt.want)
			t.Logf("killed %s after the start, seeing %d of %d routes installed; the table then held %d (%.0f %%), %d of them not in the restarted run's set",
				t1.Sub(t0).Round(time.Millisecond), killed, len(a), len(left), 100*float64(len(left))/float64(len(a)), stale)
			if len(left) == 0 || len(left) >= len(a) {
				t.Fatalf("after the kill table %d holds %d of %d routes: not a partial install", boTable, len(left), len(a))
			}
			if tt.wantStale && stale == 0 {
				t.Fatalf("the killed run left no route the new set lacks: nothing stale to remove")
			}
			bigConfig(s, tt.source, tt.path)
			start := time.Now()
			s.start()
			waitInstalled(t, s, tt.source, len(tt.want), 90*time.Second)
			t.Logf("restarted: status says the %d desired routes are installed %s after the start",
				len(tt.want), time.Since(start).Round(time.Millisecond))
			checkExact(t, s, tt.source, tt.want)
			if !t.Failed() {
				t.Logf("the kernel's table, rules and the state directory checked exact %s after the start", time.Since(start).Round(time.Millisecond))
			}
		})
	}
}

// killMidInstall waits until the first run's install has put a quarter of
// total routes in the table and SIGKILLs the daemon there; it returns the
// count it saw (the kernel may take a few more already sent).
func killMidInstall(t *testing.T, s *solo, total int) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := routeCount(s.pid())
		if err != nil {
			t.Fatal(err)
		}
		if n >= total/4 {
			s.kill()
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("table %d has %d of %d routes 60 s after the start; log:\n%s", boTable, n, total, s.logTail(20))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitInstalled waits until status says source's n prefixes are fetched
// (or restored) and installed, with no error, by an install later than
// the set.
func waitInstalled(t *testing.T, s *solo, source string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := "no breakout status yet"
	for {
		if b := s.status().Breakout; b != nil {
			c := b.Compile
			for _, src := range b.Sources {
				if src.Name != source {
					continue
				}
				last = fmt.Sprintf("source %s: %d prefixes (error %q); %d installed, %d desired (error %q)",
					source, src.Prefixes, src.LastError, c.Installed, c.Desired, c.LastError)
				if src.Prefixes == n && c.Installed == n && c.LastError == "" && !c.LastInstall.Before(src.LastSuccess) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not installed within %s: %s; log:\n%s", limit, last, s.logTail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkExact compares the kernel's breakout table with want: uplinkd's
// routes are want, each prefix once, via the gateway; the table holds no
// other prefix, whoever put it there; one rule per family; the state
// directory holds source's set only; status says all are installed. (The
// kernel is read through fib's dump and fib_triestat: `ip route show` of a
// million routes takes seconds.)
func checkExact(t *testing.T, s *solo, source string, want []netip.Prefix) {
	t.Helper()
	// Each family's routes on the table's nexthop object, which holds the
	// gateway and the link (the kernel reports both with the route).
	nh := fib.Nexthop{Gateway: netip.MustParseAddr(boGateway), LinkIndex: s.linkIndex(boLink)}
	id4, id6, _ := fib.ViaObjectIDs(boTable)
	seen := make(map[netip.Prefix]int, len(want))
	var odd []fib.Route
	for _, r := range s.uplinkdRoutes() {
		seen[r.Prefix]++
		nh.Object = id4
		if r.Prefix.Addr().Is6() {
			nh.Object = id6
		}
		if r.Nexthop != nh && len(odd) < 5 {
			odd = append(odd, r)
		}
	}
	var missing, dups, extra []netip.Prefix
	for _, p := range want {
		switch seen[p] {
		case 0:
			missing = append(missing, p)
		case 1:
		default:
			dups = append(dups, p)
		}
		delete(seen, p)
	}
	for p := range seen {
		extra = append(extra, p)
	}
	report := func(what string, ps []netip.Prefix) {
		if len(ps) > 0 {
			t.Errorf("table %d: %d %s, e.g. %v", boTable, len(ps), what, ps[:min(5, len(ps))])
		}
	}
	report("desired prefixes missing", missing)
	report("prefixes more than once", dups)
	report("routes not desired (stale)", extra)
	if len(odd) > 0 {
		t.Errorf("table %d: routes not via %s dev %s on nexthop %d: %+v", boTable, boGateway, boLink, id4, odd)
	}
	if n, err := routeCount(s.pid()); err != nil || n != len(want) {
		t.Errorf("table %d holds %d prefixes in all (%v), want %d", boTable, n, err, len(want))
	}
	checkRules(t, s)
	checkStateDir(t, s, source)
	if st := s.statusText(); !strings.Contains(st, fmt.Sprintf("%d routes installed of %d desired", len(want), len(want))) {
		t.Errorf("uplinkd status does not say %d routes installed of %d desired:\n%s", len(want), len(want), st)
	}
}

// checkRules wants exactly one rule per family at the breakout priority,
// to the breakout table.
func checkRules(t *testing.T, s *solo) {
	t.Helper()
	rules := s.rules()
	for _, fam := range []string{"-4", "-6"} {
		n := 0
		for _, r := range rules {
			if strings.HasPrefix(r, fam+" ") && strings.Contains(r, fmt.Sprintf("lookup %d", boTable)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("ip %s rule: %d rules at %d to table %d, want 1: %q", fam, n, boPriority, boTable, rules)
		}
	}
	if len(rules) != 2 {
		t.Errorf("rules at priority %d: %q, want one per family", boPriority, rules)
	}
}

// checkStateDir wants the breakout state to hold only source's set and
// the table marker: no set of a source gone, no temporary file of a write
// the kill cut short.
func checkStateDir(t *testing.T, s *solo, source string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.stateDir(), "breakout"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{source + ".state", "kernel.json"}; !slices.Equal(names, want) {
		t.Errorf("state directory holds %q, want %q", names, want)
	}
}
