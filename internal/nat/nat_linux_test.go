package nat

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/uplinkd/uplinkd/internal/nstest"
)

func nft(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft(8) is not installed to read the table back")
	}
	out, _ := exec.Command("nft", "list", "ruleset").CombinedOutput()
	return string(out)
}

func TestApplyIsIdempotentAndRemovable(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	d := Desired{{Out: "eth0", Sources: []netip.Prefix{
		netip.MustParsePrefix("198.18.10.0/24"), netip.MustParsePrefix("2001:db8:10::/64"),
	}}}
	changed, err := Apply(d)
	if err != nil || !changed {
		t.Fatalf("first apply: changed %v, err %v", changed, err)
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
	if changed, err := Apply(d); err != nil || changed {
		t.Errorf("second apply: changed %v, err %v", changed, err)
	}
	d[0].Sources = d[0].Sources[:1]
	if changed, err := Apply(d); err != nil || !changed {
		t.Errorf("apply with one source less: changed %v, err %v", changed, err)
	}
	if strings.Contains(nft(t), "2001:db8:10::/64") {
		t.Error("removed source still masqueraded")
	}
	if err := Remove(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(nft(t), "uplinkd") {
		t.Error("table remains after Remove")
	}
	if err := Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestForwarding(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	changed, err := Forwarding()
	if err != nil || len(changed) != 2 {
		t.Fatalf("first: %q, %v", changed, err)
	}
	if changed, _ := Forwarding(); len(changed) != 0 {
		t.Errorf("second call changed %q", changed)
	}
}
