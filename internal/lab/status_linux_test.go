package lab

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/uplinkd/uplinkd/internal/api"
)

func explain(t *testing.T, l *Lab, addr string) api.Explanation {
	t.Helper()
	e, err := api.NewClient(l.Socket("edge")).Explain(addr)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestExplain(t *testing.T) {
	l := needLab(t)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	waitBreakout(t, l)
	e := explain(t, l, "3.112.0.1") // inside AWS EC2 ap-northeast-1 3.112.0.0/14
	if e.Kind != "breakout" || e.Route != "3.112.0.0/14" || !strings.Contains(strings.Join(e.Lines, "\n"), "aws-ec2-tokyo EC2 ap-northeast-1") {
		t.Errorf("explain of an AWS Tokyo address: %+v", e)
	}
	e = explain(t, l, WebAddr)
	if e.Kind != "ecmp" || e.Route != "0.0.0.0/0" || strings.Count(strings.Join(e.Lines, "\n"), " weight ") != 3 {
		t.Errorf("explain of ul-web: %+v", e)
	}
	out, err := exec.Command(l.Binary, "explain", "-c", l.ConfigPath("edge"), MediaAddr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "from media 198.51.100.0/24") {
		t.Errorf("uplinkd explain %s: %v\n%s", MediaAddr, err, out)
	}
}

// The status a script reads follows a carrier failure within a second.
func TestStatusJSONFollowsCarrierFailure(t *testing.T) {
	l := needLab(t)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	before := tunnelOf(t, status(t, l, "edge"), "rakuten")
	carrier := l.NS("rakuten")
	if out, err := exec.Command("ip", "-n", carrier, "link", "set", "home0", "down").CombinedOutput(); err != nil {
		t.Fatal(string(out))
	}
	defer exec.Command("ip", "-n", carrier, "link", "set", "home0", "up").Run()
	start := time.Now()
	for {
		out, err := exec.Command(l.Binary, "status", "--json", "-c", l.ConfigPath("edge")).Output()
		if err != nil {
			t.Fatal(err)
		}
		var st api.Status
		if err := json.Unmarshal(out, &st); err != nil {
			t.Fatal(err)
		}
		if link := linkOf(st, "rakuten"); link != nil && !link.InECMP && link.BFD == "Down" {
			t.Logf("status says rakuten down and out of ECMP %s after the fault", time.Since(start).Round(time.Millisecond))
			if f := st.ECMP.Failover; f == nil || f.Link != "rakuten" {
				t.Errorf("last failover not recorded: %+v", f)
			}
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("status still shows rakuten in ECMP 1 s after its carrier died: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Counters grow with traffic.
	before = tunnelOf(t, status(t, l, "edge"), "docomo")
	for range 3 {
		if err := ping(l.NS("home"), "198.18.100.0"); err != nil {
			t.Fatal(err)
		}
	}
	after := tunnelOf(t, status(t, l, "edge"), "docomo")
	if after.TxBytes <= before.TxBytes || after.RxBytes <= before.RxBytes {
		t.Errorf("docomo counters did not grow with three pings: before %+v after %+v", before, after)
	}
}

func linkOf(st api.Status, name string) *struct {
	InECMP bool
	BFD    string
} {
	if st.ECMP == nil {
		return nil
	}
	for _, l := range st.ECMP.Links {
		if l.Name == name {
			return &struct {
				InECMP bool
				BFD    string
			}{l.InECMP, l.BFD}
		}
	}
	return nil
}

// A broken file on SIGHUP: the old config keeps running and the error
// names the file, line and column.
func TestReloadRefusesBrokenFile(t *testing.T) {
	l := needLab(t)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	path := l.ConfigPath("edge")
	var broken string
	restore, err := l.EditConfig("edge", func(good string) string {
		broken = strings.Replace(good, "weight = 1", "wieght = 1", 1)
		return broken
	})
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := status(t, l, "edge")
		if strings.Contains(st.LastErr, "reload refused") {
			line := lineOf(broken, "wieght = 1")
			if !strings.Contains(st.LastErr, path+":"+line+":1:") || !strings.Contains(st.LastErr, `"wieght"`) {
				t.Errorf("reload error does not point at %s:%s:1: %s", path, line, st.LastErr)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reload error in status 5 s after SIGHUP: %q", st.LastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Still running the old config: tunnels, routes and breakout in place.
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), time.Second)
	if seen, err := l.WhoAmI("lan", WebAddr); err != nil || seen != HubPublic {
		t.Errorf("after a refused reload ul-web sees %q (%v)", seen, err)
	}
}

func lineOf(text, needle string) string {
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, needle) {
			return strconv.Itoa(i + 1)
		}
	}
	return "?"
}

// The control socket is root's: another user is refused.
func TestSocketRefusesOtherUsers(t *testing.T) {
	l := needLab(t)
	cmd := exec.Command(l.Binary, "status", "--socket", l.Socket("edge"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("uid 65534 read the status:\n%s", out)
	}
	if !strings.Contains(string(out), "permission denied") {
		t.Errorf("uid 65534 was refused, but not for permission: %v: %s", err, out)
	}
	fi, err := os.Stat(l.Socket("edge"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
}

// Metrics scraped over HTTP from the edge's loopback, parsed as Prometheus
// would, agree with the lab's state.
func TestMetricsScrape(t *testing.T) {
	l := needLab(t)
	waitRoute(t, l, "home", "0.0.0.0/0", l.edgeTunnels(1, 1, 1), 15*time.Second)
	waitBreakout(t, l)
	c, err := l.DialFrom("home", "tcp", "127.0.0.1:9474", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		mf, ok := families[name]
		if !ok {
			return 0, false
		}
		for _, m := range mf.GetMetric() {
			match := true
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					match = false
				}
			}
			if match {
				if g := m.GetGauge(); g != nil {
					return g.GetValue(), true
				}
				if c := m.GetCounter(); c != nil {
					return c.GetValue(), true
				}
			}
		}
		return 0, false
	}
	for _, c := range Carriers {
		for _, name := range []string{"uplinkd_ecmp_member", "uplinkd_bfd_up"} {
			if v, ok := value(name, map[string]string{"uplink": c}); !ok || v != 1 {
				t.Errorf("%s{uplink=%q} = %v (present %v), want 1", name, c, v, ok)
			}
		}
		if v, ok := value("uplinkd_tunnel_tx_bytes_total", map[string]string{"uplink": c}); !ok || v == 0 {
			t.Errorf("tx bytes of %s: %v", c, v)
		}
	}
	st := status(t, l, "edge")
	if v, _ := value("uplinkd_breakout_routes_installed", nil); int(v) != st.Breakout.Compile.Installed || v == 0 {
		t.Errorf("breakout routes installed: metric %v, status %d", v, st.Breakout.Compile.Installed)
	}
	if v, _ := value("uplinkd_breakout_source_prefixes", map[string]string{"source": "aws-ec2-tokyo"}); v != 121 {
		t.Errorf("aws-ec2-tokyo prefixes: %v, want the fixture's 121 EC2 ap-northeast-1 entries", v)
	}
}
