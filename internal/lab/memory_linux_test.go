package lab

import (
	"os/exec"
	"regexp"
	"testing"

	"github.com/uplinkd/uplinkd/internal/config"
)

// TestStatusShowsMemory: both daemons run under the default soft memory
// limit and report their footprint, in JSON and in the status table.
func TestStatusShowsMemory(t *testing.T) {
	l := needLab(t)
	for _, site := range []string{"edge", "hub"} {
		m := status(t, l, site).Memory
		if m == nil {
			t.Fatalf("%s status has no memory section", site)
		}
		if m.LimitBytes != config.DefaultMemoryLimitMB<<20 {
			t.Errorf("%s runs with a memory limit of %d bytes, want the default %d MiB", site, m.LimitBytes, config.DefaultMemoryLimitMB)
		}
		ps, err := l.Footprint(site)
		if err != nil {
			t.Fatal(err)
		}
		// The kernel's VmRSS, read by the test, against the daemon's own.
		if m.RSSBytes <= 0 || m.HeapBytes <= 0 || m.RSSBytes > 4*int64(ps.RSSKiB)<<10 || 4*m.RSSBytes < int64(ps.RSSKiB)<<10 {
			t.Errorf("%s reports rss %d, heap %d; the kernel says %d KiB", site, m.RSSBytes, m.HeapBytes, ps.RSSKiB)
		}
	}
	out, err := exec.Command(l.Binary, "status", "-c", l.ConfigPath("edge")).CombinedOutput()
	if err != nil {
		t.Fatalf("uplinkd status: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^memory: rss [0-9.]+ MiB, heap [0-9.]+ MiB \(next collection at [0-9.]+ MiB\), limit 256\.0 MiB$`).Match(out) {
		t.Errorf("status table has no memory line:\n%s", out)
	}
}
