package lab

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/budget"
)

// TestBudgetHardLimitAtTheHub: docomo given a budget far below what its
// liveness alone spends passes its hard limit; the edge takes docomo out of
// its own default and tells the hub by BGP (its AS prepended on docomo's
// sessions), so the hub's route to the LAN leaves docomo out too, and
// downloads stop spending docomo's allowance. The budget gone (config
// restored), the hub's route is over all three again.
func TestBudgetHardLimitAtTheHub(t *testing.T) {
	l := needLab(t)
	all := []string{l.HubTunnel("docomo"), l.HubTunnel("softbank"), l.HubTunnel("rakuten")}
	restore, err := l.EditConfig("edge", func(c string) string {
		// A budget needs room for its soft weight: every uplink weighs 4.
		c = strings.ReplaceAll(c, "weight = 1\n", "weight = 4\n")
		at := strings.Index(c, "\n[[uplink]]\nname = \"softbank\"")
		return c[:at] + "\nbudget = \"1kB\"\n" + c[at:]
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := restore(); err != nil {
			t.Error(err)
		}
	})
	start := time.Now()
	eventually(t, 40*time.Second, func() string {
		var st budget.Status
		for _, b := range status(t, l, "edge").Budgets {
			if b.Uplink == "docomo" {
				st = b
			}
		}
		if st.State != budget.Hard {
			return fmt.Sprintf("docomo's budget %+v, want past its hard limit", st)
		}
		if !strings.Contains(st.Action, "prepended") {
			return fmt.Sprintf("docomo's budget action %q does not say the hubs are told", st.Action)
		}
		return ""
	})
	eventually(t, 10*time.Second, func() string {
		got := hubNextHops(t, l, LANPrefix)
		if slices.Contains(got, l.HubTunnel("docomo")) || len(got) != 2 {
			return fmt.Sprintf("the hub's route to the LAN via %v with docomo past its hard limit, want softbank's and rakuten's tunnels", got)
		}
		return ""
	})
	t.Logf("MEASURE docomo past its hard budget: out of the hub's route to the LAN %v after the budget was set (the meter samples every 10 s)",
		time.Since(start).Round(time.Millisecond))
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() string {
		if got := hubNextHops(t, l, LANPrefix); len(got) != 3 {
			return fmt.Sprintf("the hub's route to the LAN via %v after the budget was removed, want %v", got, all)
		}
		return ""
	})
}
