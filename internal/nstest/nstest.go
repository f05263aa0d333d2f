// Package nstest runs a test inside a fresh network namespace.
//
// Setting a namespace on one locked thread is not enough for code such as
// wireguard-go, which opens its sockets later on other threads: those would
// land in the machine's own namespace. So the test binary re-executes itself
// under `ip netns exec`, where every thread starts in the new namespace.
package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const envKey = "UPLINKD_NSTEST"

var seq atomic.Int32

// Enter reports whether the caller is running inside its own namespace and
// should go on with the test body. In the parent process it creates a
// namespace, runs the same test there, reports its result and returns false.
func Enter(t *testing.T) bool {
	t.Helper()
	return EnterAs(t, "un")
}

// EnterAs is Enter with the namespace named prefix-PID-N: tests of one
// area that run beside others' can keep to a prefix of their own.
func EnterAs(t *testing.T, prefix string) bool {
	t.Helper()
	if os.Getenv(envKey) != "" {
		return true // already the child, inside its namespace
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace (run `sudo make test`)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command")
	}
	ns := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("create namespace %s: %v: %s", ns, err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	args := []string{"netns", "exec", ns, os.Args[0], "-test.run", runPattern(t.Name()), "-test.count=1", "-test.v"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout", time.Until(d).Round(time.Second).String())
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), envKey+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("in namespace %s:\n%s", ns, indent(out))
	if err != nil {
		t.Fatalf("test in namespace %s failed: %v", ns, err)
	}
	return false
}

// runPattern anchors every level of a (sub)test name for -test.run.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func indent(b []byte) string {
	s := strings.TrimRight(string(b), "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
