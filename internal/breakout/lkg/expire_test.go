package lkg

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestExpiringSet: a failure drops the entries past their expiry and keeps
// the rest; such a set replaces an older file and is not written itself.
func TestExpiringSet(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s := open(t, dir, c)
	if err := s.Success("media", entries("media", "192.0.2.0/24"), Fetch{}); err != nil {
		t.Fatal(err)
	}
	es := entries("media", "192.0.2.1/32", "192.0.2.2/32", "198.51.100.7/32")
	exp := []time.Time{c.t.Add(time.Minute), c.t.Add(30 * time.Second), c.t.Add(time.Hour)}
	if err := s.SuccessUntil("media", es, exp); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, fileName("media"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the feed-era state file is still there: %v", err)
	}
	st, _ := s.Get("media")
	if got := st.NextExpiry(); !got.Equal(c.t.Add(30 * time.Second)) {
		t.Errorf("NextExpiry = %s, want in 30 s", got)
	}

	for _, tt := range []struct {
		after time.Duration
		want  []string
	}{
		{10 * time.Second, []string{"192.0.2.1/32", "192.0.2.2/32", "198.51.100.7/32"}},
		{30 * time.Second, []string{"192.0.2.1/32", "198.51.100.7/32"}}, // expiry itself is past
		{2 * time.Minute, []string{"198.51.100.7/32"}},
		{2 * time.Hour, nil},
	} {
		c.t = time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC).Add(tt.after)
		s.Failure("media", errors.New("no answer"))
		st, _ := s.Get("media")
		var got []string
		for _, e := range st.Entries {
			got = append(got, e.Prefix().String())
		}
		if diff := cmp.Diff(tt.want, got); diff != "" || !st.Stale() || len(st.Expires) != len(st.Entries) {
			t.Errorf("after %s (-want +got):\n%s", tt.after, diff)
		}
	}
}
