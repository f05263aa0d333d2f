package budget

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// TestKernelCounters: a tiny budget on a veth "carrier" whose counters the
// kernel moves as pings cross it: the soft limit, then the hard one; a
// restart continues the count from the state file; the interface
// re-created (counters back to 0, a new index) loses nothing.
func TestKernelCounters(t *testing.T) {
	if !nstest.EnterAs(t, "ubg") {
		return
	}
	peer := fmt.Sprintf("ubg-peer-%d", os.Getpid())
	run(t, "ip", "netns", "add", peer)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", peer).Run() })
	carrier := func() {
		for _, cmd := range [][]string{
			{"ip", "link", "add", "ubg0", "type", "veth", "peer", "name", "ubg1", "netns", peer},
			{"ip", "addr", "add", "198.18.200.1/30", "dev", "ubg0"},
			{"ip", "link", "set", "ubg0", "up"},
			{"ip", "-n", peer, "addr", "add", "198.18.200.2/30", "dev", "ubg1"},
			{"ip", "-n", peer, "link", "set", "ubg1", "up"},
		} {
			run(t, cmd...)
		}
	}
	carrier()
	// 20 pings of 1400 bytes: 20 × 2 × (1400 + 8 ICMP + 20 IP + 14 Ethernet)
	// = 57,680 bytes on ubg0, plus whatever else crosses (ARP).
	const burst = 20 * 2 * (1400 + 8 + 20 + 14)
	ping := func() { run(t, "ping", "-q", "-c", "20", "-i", "0.01", "-s", "1400", "-W", "1", "198.18.200.2") }

	up := config.Uplink{Name: "veth", Interface: "ubg0", Weight: 4,
		Budget: config.Budget{Bytes: 100e3, BillingDay: 1, SoftPercent: 40, HardPercent: 80, SoftWeight: 1}}
	dir := filepath.Join(t.TempDir(), "budget")
	open := func() *Meter {
		m := Open(dir, Netlink{}, BootID(), time.Now, slog.New(slog.DiscardHandler))
		m.Configure([]config.Uplink{up})
		m.Sample()
		return m
	}
	check := func(m *Meter, step string, lo, hi uint64, want State) {
		t.Helper()
		m.Sample()
		st := m.Status()[0]
		t.Logf("%s: used %d bytes (%.1f %%), state %s, error %q", step, st.UsedBytes, st.UsedPercent, st.State, st.Error)
		if st.UsedBytes < lo || st.UsedBytes > hi || st.State != want || st.Error != "" {
			t.Errorf("%s: used %d bytes, state %s, error %q; want %d..%d, %s", step, st.UsedBytes, st.State, st.Error, lo, hi, want)
		}
	}

	m := open()
	check(m, "baseline", 0, 0, OK)
	ping()
	check(m, "one burst", burst, burst+2000, Soft)
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	ping()
	m = open() // a restart after kill -9: the last save had one burst
	check(m, "restart, two bursts", 2*burst, 2*burst+4000, Hard)
	run(t, "ip", "link", "del", "ubg0")
	carrier()
	ping()
	check(m, "interface re-created, three bursts", 3*burst, 3*burst+6000, Hard)
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
}
