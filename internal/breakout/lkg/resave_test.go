package lkg

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// A set that cannot be saved stays in use, not stale, with the failure
// kept for status. The next refresh writes it even when the feed answers
// 304 (unchanged feeds always do) and the error clears; while the
// directory stays unusable the error stays and is returned, so the caller
// keeps retrying.
func TestNotModifiedSavesAnUnsavedSet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Open(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	// Whatever the process's privileges: the directory is now a file.
	block := func() {
		if err := os.RemoveAll(dir); err == nil {
			err = os.WriteFile(dir, nil, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	block()
	p := netip.MustParsePrefix("198.18.240.0/24")
	if err := s.Success("s", []breakout.Entry{breakout.PrefixEntry(p, 0)}, Fetch{ETag: `"v1"`}); err == nil {
		t.Fatal("Success wrote into a file as if it were a directory")
	}
	// The set that could not be written is still the good set in use,
	// not stale, and the failure is kept for status.
	if st, _ := s.Get("s"); len(st.Entries) != 1 || st.Stale() || st.SaveError == "" {
		t.Errorf("after a failed save: %d entries, stale %v, save error %q", len(st.Entries), st.Stale(), st.SaveError)
	}
	if err := s.NotModified("s"); err == nil {
		t.Error("NotModified reported the set saved while the directory is still unusable")
	}
	if st, _ := s.Get("s"); st.SaveError == "" || st.Stale() {
		t.Errorf("still unsaved: save error %q, stale %v; want the error kept, not stale", st.SaveError, st.Stale())
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := s.NotModified("s"); err != nil {
		t.Fatalf("NotModified with the directory back: %v", err)
	}
	if st, _ := s.Get("s"); st.SaveError != "" {
		t.Errorf("saved, but the save error stays: %q", st.SaveError)
	}
	again, err := Open(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := again.Get("s"); !ok || len(st.Entries) != 1 || st.Entries[0].Prefix() != p || st.ETag != `"v1"` {
		t.Errorf("restored from disk: %+v (found %v), want the one entry %v with its etag", st, ok, p)
	}
}
