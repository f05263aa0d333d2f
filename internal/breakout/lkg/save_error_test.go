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

// A set that cannot be written is still the good set in use, not stale,
// but the failure is kept for status.
func TestSuccessThatCannotBeSaved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// Whatever the process's privileges: the directory is now a file.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	es := []breakout.Entry{breakout.NewEntry(netip.MustParsePrefix("198.18.240.0/24"), 0, breakout.Attrs{Source: "s"})}
	if err := s.Success("s", es, Fetch{}); err == nil {
		t.Fatal("Success wrote into a file as if it were a directory")
	}
	st, _ := s.Get("s")
	if len(st.Entries) != 1 || st.Stale() || st.SaveError == "" {
		t.Errorf("after a failed save: %d entries, stale %v, save error %q", len(st.Entries), st.Stale(), st.SaveError)
	}
}
