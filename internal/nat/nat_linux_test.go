package nat

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/nstest"
)

func nft(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft(8) is not installed to read the table back")
	}
	if len(args) == 0 {
		args = []string{"list", "ruleset"}
	}
	out, err := exec.Command("nft", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var testNAT = Desired{{Out: "eth0", Sources: []netip.Prefix{
	netip.MustParsePrefix("198.18.10.0/24"), netip.MustParsePrefix("2001:db8:10::/64"),
}}}

func TestApplyIsIdempotentAndRemovable(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	r := NewReconciler(System{}, nil)
	if err := r.Apply(testNAT); err != nil {
		t.Fatalf("first apply: %v", err)
	}
	rules := nft(t)
	for _, want := range []string{
		`table inet uplinkd`,
		`oifname "eth0" ip saddr 198.18.10.0/24 masquerade`,
		`oifname "eth0" ip6 saddr 2001:db8:10::/64 masquerade`,
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rules)
		}
	}
	before := nft(t, "-a", "list", "table", "inet", "uplinkd") // handles change on a rewrite
	if err := r.Apply(testNAT); err != nil {
		t.Fatal(err)
	}
	if after := nft(t, "-a", "list", "table", "inet", "uplinkd"); after != before {
		t.Errorf("second apply rewrote the table:\n%s\nthen:\n%s", before, after)
	}
	less := Desired{{Out: "eth0", Sources: testNAT[0].Sources[:1]}}
	if err := r.Apply(less); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(nft(t), "2001:db8:10::/64") {
		t.Error("removed source still masqueraded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(nft(t), "uplinkd") {
		t.Error("table remains after Close")
	}
	if err := (System{}).RemoveTable(); err != nil {
		t.Errorf("second remove: %v", err)
	}
	if r.Status().Repairs != 0 {
		t.Errorf("config changes counted as %d repairs", r.Status().Repairs)
	}
}

// TestReadBackRepairs is the firewall reload: the whole ruleset flushed,
// uplinkd's table deleted, forwarding turned off, each under a running
// reconciler, each repaired within one read-back period and counted.
func TestReadBackRepairs(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	const period = 250 * time.Millisecond
	r := NewReconciler(System{}, nil)
	if err := r.Apply(testNAT); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx, period)
	masq := `oifname "eth0" ip saddr 198.18.10.0/24 masquerade`
	for i, tc := range []struct {
		name   string
		breakf func()
		fixed  func() bool
	}{
		{"nft flush ruleset", func() { nft(t, "flush", "ruleset") },
			func() bool { return strings.Contains(nft(t), masq) }},
		{"nft delete table inet uplinkd", func() { nft(t, "delete", "table", "inet", "uplinkd") },
			func() bool { return strings.Contains(nft(t), masq) }},
		{"sysctl net.ipv4.ip_forward=0", func() { writeSysctl(t, "net/ipv4/ip_forward", "0") },
			func() bool { return readSysctl(t, "net/ipv4/ip_forward") == "1" }},
		{"sysctl net.ipv6.conf.all.forwarding=0", func() { writeSysctl(t, "net/ipv6/conf/all/forwarding", "0") },
			func() bool { return readSysctl(t, "net/ipv6/conf/all/forwarding") == "1" }},
	} {
		tc.breakf()
		broke := time.Now()
		for !tc.fixed() {
			if time.Since(broke) > 2*period {
				t.Fatalf("%s: not repaired after %v (read-back every %v); status %+v", tc.name, time.Since(broke), period, r.Status())
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("MEASURE %s repaired after %v (read-back every %v)", tc.name, time.Since(broke).Round(time.Millisecond), period)
		if got := r.Status().Repairs; got != uint64(i+1) {
			t.Errorf("%s: status counts %d repairs, want %d", tc.name, got, i+1)
		}
	}
}

func readSysctl(t *testing.T, key string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + key)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func writeSysctl(t *testing.T, key, v string) {
	t.Helper()
	if err := os.WriteFile("/proc/sys/"+key, []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
}
