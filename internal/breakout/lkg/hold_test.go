package lkg

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// refuseShrink holds any set smaller than the source's good one and notes
// what it was shown.
type refuseShrink struct {
	prev   []breakout.Entry
	others int
}

func (r *refuseShrink) check(next []breakout.Entry) Check {
	return func(prev State, others [][]breakout.Entry) error {
		r.prev, r.others = prev.Entries, len(others)
		if len(next) < len(prev.Entries) {
			return errors.New("shrinks")
		}
		return nil
	}
}

// TestOfferHolds: a refused set waits beside the last good set, which stays
// in memory and on disk; accepting it takes it once; a later good fetch, or
// a 304 for the good set, ends the hold.
func TestOfferHolds(t *testing.T) {
	c := &clock{time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s := open(t, dir, c)
	good := entries("aws", "3.112.0.0/14", "3.116.0.0/14", "3.120.0.0/14")
	small := entries("aws", "3.112.0.0/14")
	if err := s.Success("aws", good, Fetch{ETag: `"e1"`}); err != nil {
		t.Fatal(err)
	}
	if err := s.Success("gh", entries("gh", "140.82.112.0/20"), Fetch{}); err != nil {
		t.Fatal(err)
	}
	r := &refuseShrink{}
	hold, err := s.Offer("aws", small, Fetch{ETag: `"e2"`}, r.check(small))
	if hold == nil || err != nil {
		t.Fatalf("offer: hold %v, err %v; want held", hold, err)
	}
	if len(r.prev) != 3 || r.others != 1 {
		t.Errorf("check saw %d entries of its own and %d other sets; want 3 and 1", len(r.prev), r.others)
	}
	since := c.t
	c.t = c.t.Add(time.Hour)
	if hold, _ := s.Offer("aws", small, Fetch{ETag: `"e2"`}, r.check(small)); hold == nil {
		t.Fatal("the same refused set taken the second time")
	}
	st, _ := s.Get("aws")
	if diff := cmp.Diff(good, st.Entries, netipOpt); diff != "" {
		t.Errorf("good set (-want +got):\n%s", diff)
	}
	if st.Held == nil || len(st.Held.Entries) != 1 || st.Held.Reason != "shrinks" || !st.Held.Since.Equal(since) || !st.Held.Last.Equal(c.t) || st.Stale() {
		t.Errorf("held %+v stale %v; want the 1-entry set, held since the first refusal, not stale", st.Held, st.Stale())
	}
	if got := s.HeldSources(); !cmp.Equal(got, []string{"aws"}) {
		t.Errorf("held sources %v", got)
	}
	if st := reopen(t, dir, c, "aws"); len(st.Entries) != 3 || st.Held != nil {
		t.Errorf("after a restart: %d entries, held %v; want the 3 good ones", len(st.Entries), st.Held)
	}

	n, err := s.Accept("aws")
	if err != nil || n != 1 {
		t.Fatalf("accept: %d, %v", n, err)
	}
	st, _ = s.Get("aws")
	if len(st.Entries) != 1 || st.Held != nil || st.ETag != `"e2"` {
		t.Errorf("after accept: %d entries, held %v, etag %s", len(st.Entries), st.Held, st.ETag)
	}
	if st := reopen(t, dir, c, "aws"); len(st.Entries) != 1 {
		t.Errorf("accepted set not saved: %d entries on disk", len(st.Entries))
	}
	if _, err := s.Accept("aws"); err == nil || !strings.Contains(err.Error(), "holds no update") {
		t.Errorf("second accept: %v", err)
	}

	// A hold ends when the feed returns to the good set (304) or passes.
	s.Success("aws", good, Fetch{ETag: `"e1"`})
	s.Offer("aws", small, Fetch{}, r.check(small))
	if err := s.NotModified("aws"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Get("aws"); st.Held != nil {
		t.Error("a 304 for the good set left the hold")
	}
	s.Offer("aws", small, Fetch{}, r.check(small))
	if hold, _ := s.Offer("aws", good[:3], Fetch{}, r.check(good[:3])); hold != nil {
		t.Fatalf("the good set refused: %v", hold)
	}
	if st, _ := s.Get("aws"); st.Held != nil {
		t.Error("a set taken left the hold")
	}
}

func reopen(t *testing.T, dir string, c *clock, source string) State {
	t.Helper()
	st, _ := open(t, dir, c).Get(source)
	return st
}

// TestMaxEntriesOnLoad: a state file of more entries than the limit (one
// an older version wrote from an oversized feed) is not loaded.
func TestMaxEntriesOnLoad(t *testing.T) {
	c := &clock{time.Now()}
	dir := t.TempDir()
	if err := open(t, dir, c).Success("big", entries("big", "10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"), Fetch{}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, discard, WithMaxEntries(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("big"); ok {
		t.Error("a file of 3 entries loaded with max_entries 2")
	}
	if p := s.Problems(); len(p) != 1 || !strings.Contains(p[0].Error(), "holds 3 entries, more than max_entries 2") {
		t.Errorf("problems %v", p)
	}
	if s, _ := Open(dir, discard, WithMaxEntries(3)); len(s.States()) != 1 {
		t.Error("a file within the limit not loaded")
	}
}
