package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// SetWeights rewrites the weight of each carrier in the edge's config, in
// carrier order, and reloads it (SIGHUP).
func (l *Lab) SetWeights(w ...int) error {
	b, err := os.ReadFile(l.ConfigPath("edge"))
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	i := 0
	for j, line := range lines {
		if strings.HasPrefix(line, "weight = ") && i < len(w) {
			lines[j] = fmt.Sprintf("weight = %d", w[i])
			i++
		}
	}
	if err := os.WriteFile(l.ConfigPath("edge"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		return err
	}
	return l.Reload("edge")
}

// GroupBalance reads the edge's `ip nexthop` and the buckets of each
// resilient group: how many groups there are, and whether every member of
// each holds its weight's share of buckets (within one). The kernel moves
// a bucket to a member that gained weight only once the bucket has idled
// for the group's idle timer, so right after a change the old shares hold.
func (l *Lab) GroupBalance() (groups int, balanced bool) {
	out, err := exec.Command("ip", "-n", l.NS("home"), "nexthop", "show").Output()
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "group" || !strings.Contains(line, "type resilient") {
			continue
		}
		groups++
		if !l.groupBalanced(f[1], memberWeights(f[3])) {
			return groups, false
		}
	}
	return groups, true
}

// memberWeights parses `ip nexthop`'s "id[,weight]/id[,weight]/…".
func memberWeights(group string) map[string]int {
	weights := map[string]int{}
	for _, m := range strings.Split(group, "/") {
		id, ws, found := strings.Cut(m, ",")
		weight := 1
		if found {
			fmt.Sscan(ws, &weight)
		}
		weights[id] = weight
	}
	return weights
}

func (l *Lab) groupBalanced(id string, weights map[string]int) bool {
	b, err := exec.Command("ip", "-n", l.NS("home"), "nexthop", "bucket", "show", "id", id).Output()
	if err != nil {
		return false
	}
	count, total := map[string]int{}, 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		for k := range f {
			if f[k] == "nhid" && k+1 < len(f) {
				count[f[k+1]]++
				total++
			}
		}
	}
	sum := 0
	for _, w := range weights {
		sum += w
	}
	for m, w := range weights {
		if d := count[m] - total*w/sum; d > 1 || d < -1 {
			return false
		}
	}
	return true
}
