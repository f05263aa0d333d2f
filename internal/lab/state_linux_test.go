package lab

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// kernelState is what the daemons have made of a lab host's kernel, kind
// by kind ("rules", "routes", "nexthops", "links", "nft"), as sorted lines
// with what legitimately differs from one run to the next (object IDs,
// counters, the order of a group's members) taken out. Two equal states
// hold the same objects, each as often: a copy left behind, or one
// missing, makes them differ.
type kernelState map[string][]string

var (
	nhidRE      = regexp.MustCompile(`nhid \d+`)
	linkLocalRE = regexp.MustCompile(`fe80::[0-9a-f:]+`)
	nhObjRE     = regexp.MustCompile(`^id \d+ `)
	nhGroupRE   = regexp.MustCompile(`group ([0-9/]+)`)
	unbalRE     = regexp.MustCompile(` unbalanced_time \d+`)
	nftCountRE  = regexp.MustCompile(`counter packets \d+ bytes \d+`)
	manySpaceRE = regexp.MustCompile(`\s+`)
)

// readState reads the kernel state of a namespace.
func readState(ns string) (kernelState, error) {
	st := kernelState{}
	for _, q := range []struct {
		kind string
		args []string
		norm func(string) string
	}{
		{"rules", []string{"ip", "-n", ns, "-4", "rule", "show"}, prefixed("v4 ")},
		{"rules", []string{"ip", "-n", ns, "-6", "rule", "show"}, prefixed("v6 ")},
		{"routes", []string{"ip", "-n", ns, "-o", "-4", "route", "show", "table", "all"}, routeLine},
		{"routes", []string{"ip", "-n", ns, "-o", "-6", "route", "show", "table", "all"}, routeLine},
		{"nexthops", []string{"ip", "-n", ns, "nexthop", "show"}, nexthopLine},
		{"links", []string{"ip", "-n", ns, "-o", "link", "show"}, linkName},
		{"nft", []string{"ip", "netns", "exec", ns, "nft", "list", "ruleset"}, nftLine},
	} {
		out, err := exec.Command(q.args[0], q.args[1:]...).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %s", strings.Join(q.args, " "), err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if line = q.norm(strings.TrimSpace(line)); line != "" {
				st[q.kind] = append(st[q.kind], line)
			}
		}
	}
	for _, lines := range st {
		slices.Sort(lines)
	}
	return st, nil
}

func prefixed(p string) func(string) string {
	return func(s string) string {
		if s == "" {
			return ""
		}
		return p + manySpaceRE.ReplaceAllString(s, " ")
	}
}

// routeLine: a multipath route's next hops in a fixed order, its group
// unnamed, link-local addresses unnamed (a userspace tunnel's device is
// new after a restart, and the kernel gives it a random one).
func routeLine(s string) string {
	parts := strings.Split(s, `\`)
	for i := range parts {
		parts[i] = strings.TrimSpace(manySpaceRE.ReplaceAllString(parts[i], " "))
	}
	slices.Sort(parts[1:])
	s = nhidRE.ReplaceAllString(strings.Join(parts, " | "), "nhid N")
	return linkLocalRE.ReplaceAllString(s, "fe80::LL")
}

// nexthopLine: an object without its ID; a group as its size.
func nexthopLine(s string) string {
	if m := nhGroupRE.FindStringSubmatch(s); m != nil {
		s = nhGroupRE.ReplaceAllString(s, fmt.Sprintf("group of %d", len(strings.Split(m[1], "/"))))
	}
	return unbalRE.ReplaceAllString(nhObjRE.ReplaceAllString(s, ""), "")
}

func linkName(s string) string {
	f := strings.Fields(s)
	if len(f) < 2 {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
	return name
}

func nftLine(s string) string {
	if s == "}" {
		return ""
	}
	return nftCountRE.ReplaceAllString(s, "counter")
}

// count is how many lines of a kind contain sub.
func (st kernelState) count(kind, sub string) int {
	n := 0
	for _, line := range st[kind] {
		if strings.Contains(line, sub) {
			n++
		}
	}
	return n
}

// waitState waits until ns's kernel state is want again, and reports the
// difference if it never is.
func waitState(t *testing.T, ns string, want kernelState, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var got kernelState
	for {
		var err error
		if got, err = readState(ns); err != nil {
			t.Fatal(err)
		}
		if cmp.Equal(want, got) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s's kernel state after %s differs from before (-before +after):\n%s", ns, limit, diff)
	}
}

// TestKernelStateNormalizes: the normalization keeps what a restart must
// preserve and drops only what may change, so that the state comparisons
// above can fail.
func TestKernelStateNormalizes(t *testing.T) {
	for _, tc := range []struct {
		norm func(string) string
		a, b string
		same bool
	}{
		{routeLine, `default nhid 6000000 proto 211 \	nexthop via 1.1.1.1 dev a weight 1 \	nexthop via 2.2.2.2 dev b weight 1`,
			`default nhid 6000007 proto 211 \	nexthop via 2.2.2.2 dev b weight 1 \	nexthop via 1.1.1.1 dev a weight 1`, true},
		{routeLine, `default nhid 1 proto 211 \	nexthop via 1.1.1.1 dev a weight 1`, `default nhid 1 proto 211 \	nexthop via 1.1.1.1 dev a weight 2`, false},
		{routeLine, `local fe80::1a5d:b353:5a79:ab40 dev wg-docomo table local proto kernel metric 0 pref medium`,
			`local fe80::60a:3f0e:7c0a:10a3 dev wg-docomo table local proto kernel metric 0 pref medium`, true},
		{routeLine, `local fe80::1a5d:b353:5a79:ab40 dev wg-docomo table local proto kernel metric 0 pref medium`,
			`local fe80::1a5d:b353:5a79:ab40 dev wg2-docomo table local proto kernel metric 0 pref medium`, false},
		{routeLine, `default via 198.18.5.1 dev breakout proto 211`, `default via 198.18.5.1 dev breakout proto 211 metric 5`, false},
		{nexthopLine, `id 6000000 group 1/2/3 type resilient buckets 256 idle_timer 5 unbalanced_timer 60 unbalanced_time 0 proto 211`,
			`id 6000009 group 7/8/9 type resilient buckets 256 idle_timer 5 unbalanced_timer 60 unbalanced_time 12 proto 211`, true},
		{nexthopLine, `id 1 group 1/2/3 type resilient proto 211`, `id 1 group 1/2 type resilient proto 211`, false},
		{nexthopLine, `id 6065524 via 198.18.101.4 dev wg2-rakuten scope link proto 211`, `id 6065999 via 198.18.101.4 dev wg2-rakuten scope link proto 211`, true},
		{nftLine, `ip daddr 198.18.10.2 counter packets 2 bytes 120 accept`, `ip daddr 198.18.10.2 counter packets 0 bytes 0 accept`, true},
		{nftLine, `oifname "breakout" ip saddr 198.18.10.0/24 masquerade`, `oifname "wwan-docomo" ip saddr 198.18.10.0/24 masquerade`, false},
		{linkName, `7: wg-docomo: <POINTOPOINT,UP> mtu 1420 qdisc fq_codel state UNKNOWN`, `9: wg-docomo: <POINTOPOINT> mtu 1420 state DOWN`, true},
	} {
		if got := tc.norm(tc.a) == tc.norm(tc.b); got != tc.same {
			t.Errorf("%q and %q normalized the same: %v, want %v (%q, %q)", tc.a, tc.b, got, tc.same, tc.norm(tc.a), tc.norm(tc.b))
		}
	}
}
