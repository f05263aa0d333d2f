package feed

import (
	"fmt"
	"slices"
	"strings"
)

// match is a set of wanted values; an empty set wants everything. It also
// records which wanted values the feed actually holds, because a filter value
// that never occurs is almost always a typo ("EC3") and must not quietly
// select nothing.
type match struct {
	what string // "service", for the error
	want map[string]bool
	seen map[string]bool
}

func newMatch(what string, vals []string) *match {
	m := &match{what: what, want: map[string]bool{}, seen: map[string]bool{}}
	for _, v := range vals {
		m.want[v] = true
	}
	return m
}

// ok reports whether v is wanted, and notes that the feed holds v.
func (m *match) ok(v string) bool {
	m.seen[v] = true
	return len(m.want) == 0 || m.want[v]
}

// missing returns an error naming wanted values the feed never held.
func (m *match) missing() error {
	var miss []string
	for v := range m.want {
		if !m.seen[v] {
			miss = append(miss, v)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	slices.Sort(miss)
	known := make([]string, 0, len(m.seen))
	for v := range m.seen {
		known = append(known, v)
	}
	slices.Sort(known)
	return fmt.Errorf("%w: %s %s not in feed (feed has: %s)", ErrNoMatch, m.what,
		strings.Join(miss, ", "), abbrev(strings.Join(known, ", "), 300))
}

func abbrev(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
