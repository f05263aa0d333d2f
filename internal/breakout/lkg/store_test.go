package lkg

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

var netipOpt = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func entries(source string, ps ...string) []breakout.Entry {
	var out []breakout.Entry
	for _, p := range ps {
		out = append(out, breakout.NewEntry(netip.MustParsePrefix(p), 16509, breakout.Attrs{Source: source, ASNName: "AMAZON-02", Name: "AMAZON", Service: "EC2", Region: "ap-northeast-1", NetworkBorderGroup: "ap-northeast-1"}))
	}
	return out
}

func open(t *testing.T, dir string, c *clock) *Store {
	t.Helper()
	s, err := Open(dir, discard, WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFailureKeepsSet(t *testing.T) {
	c := &clock{time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)}
	s := open(t, t.TempDir(), c)
	good := entries("aws", "3.112.0.0/14", "2600:1f00::/24")
	if err := s.Success("aws", good, Fetch{ETag: `"e1"`, LastModified: ""}); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(90 * time.Minute)
	s.Failure("aws", errors.New("fetch aws: 500 Internal Server Error"))
	st, ok := s.Get("aws")
	if !ok {
		t.Fatal("source gone after failure")
	}
	if diff := cmp.Diff(good, st.Entries, netipOpt); diff != "" {
		t.Errorf("entries after failure (-want +got):\n%s", diff)
	}
	if !st.Stale() || st.Age(c.t) != 90*time.Minute || !strings.Contains(st.LastError, "500") {
		t.Errorf("state = stale %v age %v err %q, want stale, 1h30m, the 500", st.Stale(), st.Age(c.t), st.LastError)
	}
	// A 304 later confirms the set and clears stale.
	c.t = c.t.Add(time.Hour)
	if err := s.NotModified("aws"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Get("aws"); st.Stale() || st.Age(c.t) != 0 || len(st.Entries) != 2 {
		t.Errorf("after 304: %+v", st)
	}
}

// TestSameSetKeepsHeldSlice: a refresh that fetched the same set again
// leaves the held slice in place (the installed set's index refers to it),
// so a daily refresh of a million entries does not keep two copies alive.
func TestSameSetKeepsHeldSlice(t *testing.T) {
	c := &clock{time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)}
	s := open(t, t.TempDir(), c)
	first := entries("aws", "3.112.0.0/14", "2600:1f00::/24")
	if err := s.Success("aws", first, Fetch{}); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(24 * time.Hour)
	if err := s.Success("aws", entries("aws", "3.112.0.0/14", "2600:1f00::/24"), Fetch{}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Get("aws")
	if &st.Entries[0] != &first[0] || st.Age(c.t) != 0 {
		t.Errorf("same set again: held slice replaced (%p, want %p) or age %v not reset", &st.Entries[0], &first[0], st.Age(c.t))
	}
	changed := entries("aws", "3.112.0.0/14")
	if err := s.Success("aws", changed, Fetch{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Get("aws"); &st.Entries[0] != &changed[0] {
		t.Error("a changed set did not replace the held one")
	}
}

func TestFailureWithoutSet(t *testing.T) {
	s := open(t, t.TempDir(), &clock{time.Unix(0, 0)})
	s.Failure("gh", errors.New("timeout"))
	st, _ := s.Get("gh")
	if !st.Stale() || len(st.Entries) != 0 {
		t.Errorf("state = %+v, want stale and empty", st)
	}
	if err := s.NotModified("gh"); err == nil {
		t.Error("304 without a stored set accepted")
	}
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)}
	s := open(t, dir, c)
	aws := entries("aws", "3.112.0.0/14", "2600:1f00::/24")
	a := aws[0].Attrs()
	a.Name = "tab\there" // survives quoting
	aws[0] = breakout.NewEntry(aws[0].Prefix(), aws[0].ASN, a)
	a = aws[1].Attrs()
	a.Region = `"quoted"`
	aws[1] = breakout.NewEntry(aws[1].Prefix(), aws[1].ASN, a)
	odd := entries("odd/name ..", "192.0.2.0/24")
	for _, x := range []struct {
		src string
		es  []breakout.Entry
	}{{"aws", aws}, {"odd/name ..", odd}} {
		if err := s.Success(x.src, x.es, Fetch{ETag: `W/"x"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT", Spec: "spec of " + x.src}); err != nil {
			t.Fatal(err)
		}
	}
	c.t = c.t.Add(time.Hour)
	s2 := open(t, dir, c)
	if p := s2.Problems(); len(p) != 0 {
		t.Fatalf("problems: %v", p)
	}
	want := []State{
		{Source: "aws", Entries: aws, LastSuccess: c.t.Add(-time.Hour), ETag: `W/"x"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT", Spec: "spec of aws", Restored: true},
		{Source: "odd/name ..", Entries: odd, LastSuccess: c.t.Add(-time.Hour), ETag: `W/"x"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT", Spec: "spec of odd/name ..", Restored: true},
	}
	if diff := cmp.Diff(want, s2.States(), netipOpt); diff != "" {
		t.Errorf("restored (-want +got):\n%s", diff)
	}
	if n := len(s2.Entries()); n != 3 {
		t.Errorf("union has %d entries, want 3", n)
	}
	if err := s2.Forget("aws"); err != nil {
		t.Fatal(err)
	}
	if _, ok := open(t, dir, c).Get("aws"); ok {
		t.Error("forgotten source restored")
	}
}

// TestFileWithoutSpecLoads: a state file written before the spec line
// existed still restores its set, with no Spec (so it is fetched again).
func TestFileWithoutSpecLoads(t *testing.T) {
	dir := t.TempDir()
	old := "uplinkd-breakout-state 1\nsource \"aws\"\nsuccess 2026-11-30T02:00:00Z\netag \"\"\nmodified \"\"\ncount 1\n" +
		"3.112.0.0/14\t16509\t\t\t\tEC2\tap-northeast-1\tap-northeast-1\nend\n"
	if err := os.WriteFile(filepath.Join(dir, "aws.state"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	st, ok := open(t, dir, &clock{time.Unix(1e9, 0)}).Get("aws")
	if !ok || len(st.Entries) != 1 || st.Spec != "" || st.Entries[0].Service() != "EC2" {
		t.Fatalf("old file restored as %+v (ok %v)", st, ok)
	}
}

func TestCorruptFileIgnored(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Unix(1e9, 0)}
	s := open(t, dir, c)
	for _, src := range []string{"good", "cut", "garbage", "count", "badprefix", "renamed"} {
		if err := s.Success(src, entries(src, "10.0.0.0/8", "10.1.0.0/16"), Fetch{}); err != nil {
			t.Fatal(err)
		}
	}
	mangle := func(src string, f func(string) string) {
		p := filepath.Join(dir, fileName(src))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f(string(b))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mangle("cut", func(s string) string { return s[:len(s)-20] })
	mangle("garbage", func(string) string { return "\x00\x01binary" })
	mangle("count", func(s string) string { return strings.Replace(s, "count 2", "count 3", 1) })
	mangle("badprefix", func(s string) string { return strings.Replace(s, "10.1.0.0/16", "10.1.0.1/16", 1) })
	if err := os.Rename(filepath.Join(dir, fileName("renamed")), filepath.Join(dir, "other.state")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, tmpPrefix+"123"), []byte("half"), 0o600)

	s2 := open(t, dir, c)
	var got []string
	for _, st := range s2.States() {
		got = append(got, st.Source)
	}
	if diff := cmp.Diff([]string{"good"}, got); diff != "" {
		t.Errorf("restored sources (-want +got):\n%s", diff)
	}
	if n := len(s2.Problems()); n != 5 {
		t.Errorf("%d problems, want 5: %v", n, s2.Problems())
	}
	if _, err := os.Stat(filepath.Join(dir, tmpPrefix+"123")); !os.IsNotExist(err) {
		t.Error("temporary file not swept")
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{"aws": "aws.state", "a/b": "a%2Fb.state", "..": "%2E%2E.state", "AS16509_x-y": "AS16509_x-y.state"} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzStateFile: decoding never panics, and whatever decodes re-encodes to
// the same entries.
func FuzzStateFile(f *testing.F) {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	encode(w, &State{Source: "aws", LastSuccess: time.Unix(1e9, 0), ETag: `"x"`, Entries: entries("aws", "3.112.0.0/14", "2600:1f00::/24")})
	w.Flush()
	f.Add([]byte(b.String()))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decode(data)
		if err != nil {
			return
		}
		var b strings.Builder
		w := bufio.NewWriter(&b)
		encode(w, st)
		w.Flush()
		st2, err := decode([]byte(b.String()))
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if diff := cmp.Diff(st.Entries, st2.Entries, netipOpt); diff != "" {
			t.Fatalf("(-first +second):\n%s", diff)
		}
	})
}
