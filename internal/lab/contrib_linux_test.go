package lab

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestContribConfigsAreTheLabs: the reference hub configs in contrib/ are
// the ones the lab's BIRD and FRR hubs run (TestBIRDHub, TestFRRHub), line
// for line but for comments and logging, and BIRD and FRR accept them.
func TestContribConfigsAreTheLabs(t *testing.T) {
	l := New(Options{})
	for _, c := range []struct {
		file, comment, lab string
		check              []string
	}{
		{"../../contrib/bird/uplinkd-hub.conf", "#", birdConf(l), []string{"bird", "-p", "-c"}},
		{"../../contrib/frr/uplinkd-hub.conf", "!", frrBFDConf + frrBGPConf(), []string{"vtysh", "-C", "-f"}},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		got, want := configLines(string(b), c.comment), configLines(c.lab, c.comment)
		if !slices.Equal(got, want) {
			t.Errorf("%s differs from the lab's config:\nonly in the file: %q\nonly in the lab: %q",
				c.file, minus(got, want), minus(want, got))
		}
		if _, err := exec.LookPath(c.check[0]); err != nil {
			t.Logf("%s not installed: %s not checked by it", c.check[0], c.file)
			continue
		}
		if out, err := exec.Command(c.check[0], append(c.check[1:], c.file)...).CombinedOutput(); err != nil {
			t.Errorf("%s refuses %s: %v\n%s", strings.Join(c.check, " "), c.file, err, out)
		}
	}
}

// TestContribReceiverConfigsParse: the breakout receivers' configs are
// accepted by BIRD and FRR (bird -p, vtysh -C).
func TestContribReceiverConfigsParse(t *testing.T) {
	for _, c := range []struct {
		file  string
		check []string
	}{
		{"../../contrib/bird/breakout-receiver.conf", []string{"bird", "-p", "-c"}},
		{"../../contrib/frr/breakout-receiver.conf", []string{"vtysh", "-C", "-f"}},
	} {
		if _, err := exec.LookPath(c.check[0]); err != nil {
			t.Skipf("skipping: %s not installed (apt-get install -y --no-install-recommends bird2 frr)", c.check[0])
		}
		if out, err := exec.Command(c.check[0], append(c.check[1:], c.file)...).CombinedOutput(); err != nil {
			t.Errorf("%s refuses %s: %v\n%s", strings.Join(c.check, " "), c.file, err, out)
		}
	}
}

// configLines are a config's statements, sorted: no comments, blank
// lines, logging or host name, each trimmed.
func configLines(text, comment string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == comment || strings.HasPrefix(line, comment+" ") ||
			strings.HasPrefix(line, "log ") || strings.HasPrefix(line, "hostname ") {
			continue
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
