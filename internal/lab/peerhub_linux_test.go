package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The interop labs: the same edge, its config untouched, against a hub of
// Debian's wireguard-go with BIRD 2 (ulbi-*) or FRR (ulfr-*) instead of
// uplinkd. Each is built by its test and torn down at its end. The two
// run side by side, after the other tests (t.Parallel): each is its own
// lab, and each is mostly waiting (a 15 s hold, budgets sampled every
// 10 s), 30 s apiece.

// TestBIRDHub: sessions, BFD, ECMP both ways, the LAN's traffic through
// the hub and a blackholed carrier out of the edge's FIB within 400 ms,
// against BIRD 2 as issue 14 found it must be configured (GTSM on, error
// wait lowered).
func TestBIRDHub(t *testing.T) {
	t.Parallel()
	l := needPeerLab(t, HubBIRD, "bi")
	peerHubSuite(t, l, func() (int, error) {
		out, err := l.Birdc("show", "bfd", "sessions")
		return strings.Count(out, " Up "), err
	})
}

// TestFRRHub is TestBIRDHub against FRR (zebra, bgpd, bfdd; BFD profile
// 100 ms × 3), the hub of issue 16 whose BFD flapped against ours.
func TestFRRHub(t *testing.T) {
	t.Parallel()
	l := needPeerLab(t, HubFRR, "fr")
	peerHubSuite(t, l, func() (int, error) {
		ps, err := frrPeers(l)
		n := 0
		for _, p := range ps {
			if p.Status == "up" {
				n++
			}
		}
		return n, err
	})
	t.Run("weights by link bandwidth", func(t *testing.T) {
		// FRR reads the link bandwidth the edge puts on its sessions
		// (bgp bestpath bandwidth, on by default) and weighs its next hops
		// by it: the edge's 2:1:1 reaches FRR's route to the LAN.
		setWeights(t, l, 2, 1, 1)
		defer setWeights(t, l, 1, 1, 1)
		var out string
		eventually(t, 15*time.Second, func() string {
			b, _ := exec.Command("ip", "-n", l.NS("hub"), "route", "show", LANPrefix).CombinedOutput()
			out = string(b)
			w := map[string]int{}
			for _, m := range nexthopWeight.FindAllStringSubmatch(out, -1) {
				var n int
				fmt.Sscan(m[2], &n)
				w[m[1]] = n
			}
			d, s, r := w[l.HubTunnel("docomo")], w[l.HubTunnel("softbank")], w[l.HubTunnel("rakuten")]
			if s == 0 || d != 2*s || s != r {
				return fmt.Sprintf("FRR's route to the LAN: %s; want docomo weighted twice softbank and rakuten", strings.TrimSpace(out))
			}
			return ""
		})
		t.Logf("MEASURE FRR hub's route to the LAN at the edge's weights 2:1:1: %s", strings.Join(strings.Fields(out), " "))
	})
}

// nexthopWeight reads `nexthop [via X] dev D weight N` of `ip route` (a
// dual-stack tunnel's member in uplinkd's resilient groups has no via).
var nexthopWeight = regexp.MustCompile(`nexthop (?:via \S+ )?dev (\S+) weight (\d+)`)

// peerHubSuite runs what each peer hub must show; bfdUp counts the hub's
// own BFD sessions that are up.
func peerHubSuite(t *testing.T, l *Lab, bfdUp func() (int, error)) {
	t.Run("sessions and BFD", func(t *testing.T) {
		eventually(t, 20*time.Second, func() string {
			st := status(t, l, "edge")
			for _, link := range st.ECMP.Links {
				if link.BFD != "Up" {
					return fmt.Sprintf("edge: %s BFD %s", link.Name, link.BFD)
				}
				for _, p := range link.BGP {
					if !p.Established {
						return fmt.Sprintf("edge: %s session %s not established", link.Name, p.Name)
					}
				}
				if len(link.BGP) != 2 {
					return fmt.Sprintf("edge: %s has %d sessions, want IPv4 and IPv6", link.Name, len(link.BGP))
				}
			}
			n, err := bfdUp()
			if err != nil {
				return err.Error()
			}
			if n != len(Carriers) {
				return fmt.Sprintf("hub: %d BFD sessions up, want %d", n, len(Carriers))
			}
			return ""
		})
	})
	t.Run("ECMP both ways", func(t *testing.T) {
		w := watch(t, l)
		want := tunnelsOf(l)
		for _, v6 := range []bool{false, true} {
			if _, got, err := w.WaitFamily(context.Background(), v6, time.Now(), 10*time.Second, OnlyVia(want...)); err != nil {
				t.Fatalf("edge default (v6 %v) via %v, want %v", v6, got, want)
			}
		}
		for _, p := range []string{LANPrefix, LANPrefix6} {
			if hops := hubNextHops(t, l, p); len(hops) != len(Carriers) {
				t.Errorf("hub's route to %s over %v, want one next hop per tunnel", p, hops)
			}
		}
	})
	t.Run("LAN to web through the hub", func(t *testing.T) {
		if seen, err := l.WhoAmI("lan", WebAddr); err != nil || seen != HubPublic {
			t.Errorf("web sees the LAN host as %q (%v), want the hub %s", seen, err, HubPublic)
		}
	})
	t.Run("blackholed carrier", func(t *testing.T) { peerHubBlackhole(t, l) })
	t.Run("hard budget", func(t *testing.T) { peerHubBudget(t, l) })
	t.Run("hold", func(t *testing.T) { peerHubHold(t, l) })
}

// peerHubBudget: docomo past its hard data budget; the edge prepends its
// AS on docomo's sessions, and the peer hub's route to the LAN leaves
// docomo's tunnel (best path: the shortest AS path; multipath: only as
// short); the budget removed, it is back.
func peerHubBudget(t *testing.T, l *Lab) {
	restore, err := l.EditConfig("edge", func(c string) string {
		c = strings.ReplaceAll(c, "weight = 1\n", "weight = 4\n") // room for the soft weight
		at := strings.Index(c, "\n[[uplink]]\nname = \"softbank\"")
		return c[:at] + "\nbudget = \"1kB\"\n" + c[at:]
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restore() })
	start := time.Now()
	eventually(t, 40*time.Second, func() string {
		if hops := hubNextHops(t, l, LANPrefix); len(hops) != len(Carriers)-1 || slices.Contains(hops, l.HubTunnel("docomo")) {
			return fmt.Sprintf("%s hub's route to the LAN over %v with docomo past its hard budget, want the other two", l.HubDaemon, hops)
		}
		return ""
	})
	t.Logf("MEASURE %s hub: docomo past its hard budget out of its route to the LAN %v after the budget was set (the meter samples every 10 s)",
		l.HubDaemon, time.Since(start).Round(time.Millisecond))
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() string {
		if hops := hubNextHops(t, l, LANPrefix); len(hops) != len(Carriers) {
			return fmt.Sprintf("%s hub's route to the LAN over %v after the budget was removed, want all tunnels", l.HubDaemon, hops)
		}
		return ""
	})
}

// peerHubHold holds the lab for UPLINKD_PEER_HOLD (15 s by default; issue
// 16 asks for 10m) with a blackhole failover every 100 s (at least one):
// each within 400 ms, and no BFD session of the edge goes down but for
// those, so nothing flaps while the tunnels are quiet.
func peerHubHold(t *testing.T, l *Lab) {
	hold := 15 * time.Second
	if v := os.Getenv("UPLINKD_PEER_HOLD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("UPLINKD_PEER_HOLD=%q: %v", v, err)
		}
		hold = d
	}
	n := max(1, int(hold/(100*time.Second)))
	start := time.Now()
	var took []time.Duration
	for i := range n {
		time.Sleep(time.Until(start.Add(hold * time.Duration(i+1) / time.Duration(n+1))))
		took = append(took, peerHubBlackhole(t, l))
	}
	time.Sleep(time.Until(start.Add(hold)))
	log := logBetween(l.LogPath("edge"), start, time.Now())
	downs := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `msg="bfd session state changed"`) && strings.Contains(line, " state=Down ") {
			downs++
		}
	}
	t.Logf("MEASURE %s hub held %v: %d blackhole failovers in %v; %d BFD downs at the edge", l.HubDaemon, hold, n, took, downs)
	if downs != n {
		t.Errorf("%d BFD sessions of the edge went down in %v, want %d (one per blackhole):\n%s", downs, hold, n, log)
	}
}

// peerHubBlackhole drops everything on docomo's link: the edge's default
// loses that tunnel within 400 ms, the hub's route to the LAN loses it
// too (BFD down at the hub), and both come back once it is lifted.
func peerHubBlackhole(t *testing.T, l *Lab) time.Duration {
	w := watch(t, l)
	all := tunnelsOf(l)
	start := time.Now()
	if err := Blackhole(l.NS("docomo"), "home0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unblackhole(l.NS("docomo")) })
	took, got, err := w.Wait(context.Background(), start, 2*time.Second, OnlyVia(all[1:]...))
	if err != nil {
		t.Fatalf("edge default via %v after the blackhole, want %v", got, all[1:])
	}
	t.Logf("MEASURE blackholed docomo out of the edge's FIB in %v", took.Round(time.Millisecond))
	if took > 400*time.Millisecond {
		t.Errorf("failover took %v, want ≤ 400 ms", took.Round(time.Millisecond))
	}
	eventually(t, 3*time.Second, func() string {
		if hops := hubNextHops(t, l, LANPrefix); len(hops) != len(Carriers)-1 {
			return fmt.Sprintf("hub's route to the LAN over %v, want without docomo", hops)
		}
		return ""
	})
	if err := Unblackhole(l.NS("docomo")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := w.Wait(context.Background(), time.Now(), 20*time.Second, OnlyVia(all...)); err != nil {
		t.Fatalf("edge default via %v after the blackhole was lifted, want %v", got, all)
	}
	eventually(t, 20*time.Second, func() string {
		if hops := hubNextHops(t, l, LANPrefix); len(hops) != len(Carriers) {
			return fmt.Sprintf("hub's route to the LAN over %v after the blackhole, want all tunnels", hops)
		}
		return ""
	})
	return took
}

// needPeerLab builds a lab whose hub is daemon, tagged tag, for one test.
func needPeerLab(t *testing.T, daemon, tag string) *Lab {
	t.Helper()
	base := needLab(t)
	if why := PeerHubMissing(daemon); why != "" {
		t.Skipf("skipping the %s hub: %s", daemon, why)
	}
	l := New(Options{Tag: tag, Binary: base.Binary, HubDaemon: daemon})
	var progress bytes.Buffer
	start := time.Now()
	err := l.Up(context.Background(), &progress)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("edge log:\n%s", Tail(l.LogPath("edge"), 40))
		}
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
		if left := leftovers(l); left != "" {
			t.Errorf("lab down left: %s", left)
		}
	})
	if err != nil {
		t.Fatalf("%s-hub lab: %v\n%s", daemon, err, progress.String())
	}
	t.Logf("%s-hub lab up in %s", daemon, time.Since(start).Round(time.Millisecond))
	return l
}

func tunnelsOf(l *Lab) []string {
	var names []string
	for _, c := range Carriers {
		names = append(names, l.EdgeTunnel(c))
	}
	return names
}

var nexthopDev = regexp.MustCompile(`nexthop (?:via \S+ )?dev (\S+)`)

// hubNextHops lists the interfaces of the hub kernel's route to prefix.
func hubNextHops(t *testing.T, l *Lab, prefix string) []string {
	t.Helper()
	family := "-4"
	if strings.Contains(prefix, ":") {
		family = "-6"
	}
	out, err := exec.Command("ip", family, "-n", l.NS("hub"), "route", "show", prefix).CombinedOutput()
	if err != nil {
		t.Fatalf("ip route show %s: %v: %s", prefix, err, out)
	}
	var devs []string
	for _, m := range nexthopDev.FindAllStringSubmatch(string(out), -1) {
		devs = append(devs, m[1])
	}
	if len(devs) == 0 && strings.Contains(string(out), " dev ") {
		devs = append(devs, strings.Fields(strings.SplitN(string(out), " dev ", 2)[1])[0])
	}
	return devs
}

// eventually polls check (every 100 ms) until it returns "" and fails the
// test with its last word after limit.
func eventually(t *testing.T, limit time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// frrPeer is one entry of FRR's `show bfd peers json`.
type frrPeer struct {
	Peer   string `json:"peer"`
	Status string `json:"status"`
}

// frrPeers is FRR's `show bfd peers json`.
func frrPeers(l *Lab) ([]frrPeer, error) {
	out, err := l.Vtysh("show bfd peers json")
	if err != nil {
		return nil, err
	}
	var ps []frrPeer
	return ps, json.Unmarshal([]byte(out), &ps)
}
