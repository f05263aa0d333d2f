package lkg

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// State is one source's last known good set and the outcome of its latest
// refresh.
type State struct {
	Source       string
	Entries      []breakout.Entry // the last good set; shared, do not modify
	LastSuccess  time.Time        // when Entries were last fetched or confirmed unchanged
	LastAttempt  time.Time        // zero until the first refresh in this run
	LastError    string           // why the latest refresh failed; "" when it succeeded
	ETag         string           // validators of the good fetch, for conditional GET
	LastModified string
	// Spec fingerprints the source's configuration the set was fetched
	// for: a set restored for a source whose URL or filters changed while
	// the daemon was down is not fresh, whatever its age.
	Spec     string
	Restored bool // Entries come from disk, not yet refreshed in this run
	// SaveError says the set could not be written to the state directory
	// (full, read-only): it is good and in use, but a restart with the
	// feeds down would not have it.
	SaveError string
	// Expires, when set (dns answers), says until when each of Entries is
	// good: a failed refresh drops those past it. See SuccessUntil.
	Expires []time.Time
	// Held, when set, is a newer fetch the guards refused; see Offer.
	Held *Held
}

// Stale reports whether the latest refresh failed, so Entries are older
// than the feed might be.
func (s State) Stale() bool { return s.LastError != "" }

// Age is how long ago the set was last known good.
func (s State) Age(now time.Time) time.Duration { return now.Sub(s.LastSuccess) }

// Store holds the states of all sources. It is safe for concurrent use.
type Store struct {
	dir        string
	log        *slog.Logger
	now        func() time.Time
	maxEntries int        // a state file holding more is not loaded; 0: no limit
	mu         sync.Mutex // guards m
	wmu        sync.Mutex // orders Success calls so the file matches memory
	m          map[string]*State
	problems   []error
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithMaxEntries refuses to load a state file of more than n entries (the
// config's max_entries): one an older version wrote from a feed past
// today's limits is ignored before it is read, not loaded into memory.
func WithMaxEntries(n int) Option { return func(s *Store) { s.maxEntries = n } }

// Open loads every state file in dir (created if missing). A file that does
// not load is logged, kept in Problems and ignored: one corrupt file must
// not keep the other sources' routes from being restored. Only an unusable
// directory is an error.
func Open(dir string, log *slog.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{dir: dir, log: log, now: time.Now, m: map[string]*State{}}
	for _, o := range opts {
		o(s)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open state dir %s: %w", dir, err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*"+fileExt))
	if err != nil {
		return nil, fmt.Errorf("open state dir %s: %w", dir, err)
	}
	for _, name := range names {
		s.load(name)
	}
	s.sweepTemp()
	return s, nil
}

func (s *Store) load(path string) {
	st, err := readFile(path, s.maxEntries)
	if err != nil {
		err = fmt.Errorf("state file %s ignored: %w", path, err)
		s.problems = append(s.problems, err)
		s.log.Warn("breakout state file ignored", "path", path, "err", err)
		return
	}
	st.Restored = true
	s.m[st.Source] = st
	s.log.Info("breakout state restored", "source", st.Source, "prefixes", len(st.Entries), "age", s.now().Sub(st.LastSuccess).Round(time.Second))
}

// sweepTemp removes temporary files a crash left behind mid-write.
func (s *Store) sweepTemp() {
	tmps, _ := filepath.Glob(filepath.Join(s.dir, tmpPrefix+"*"))
	for _, t := range tmps {
		os.Remove(t)
	}
}

// Problems returns the state files Open could not load.
func (s *Store) Problems() []error { return slices.Clone(s.problems) }

// Fetch describes a good fetch besides its entries.
type Fetch struct {
	ETag, LastModified string // the server's validators
	Spec               string // the source configuration's fingerprint
}

// Success records a good fetch: es replace the source's set and are
// persisted before Success returns. If persisting fails the new set is still
// used in memory and the error is returned for the caller to report.
func (s *Store) Success(source string, es []breakout.Entry, f Fetch) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.success(source, es, f)
}

// success is Success with wmu held. It ends any hold: the set it records
// is the newer one.
func (s *Store) success(source string, es []breakout.Entry, f Fetch) error {
	now := s.now()
	st := &State{Source: source, Entries: es, LastSuccess: now, LastAttempt: now, ETag: f.ETag, LastModified: f.LastModified, Spec: f.Spec}
	s.mu.Lock()
	if old, ok := s.m[source]; ok && slices.Equal(old.Entries, es) {
		// The same set fetched again: keep the slice already held (and
		// maybe indexed by the installed set), so one copy stays alive,
		// not two of a million entries.
		st.Entries = old.Entries
	}
	s.m[source] = st
	s.mu.Unlock()
	if err := writeFile(s.dir, st); err != nil {
		err = fmt.Errorf("persist source %s: %w", source, err)
		s.mu.Lock()
		st.SaveError = err.Error()
		s.mu.Unlock()
		return err
	}
	return nil
}

// NotModified records a fetch the server answered 304: the set is still
// good. The confirmation is not written to disk (rewriting a million-line
// file to move a timestamp is not worth it): after a restart the age shows
// the last real change, which errs on the old side. But a set that could
// not be saved when it came (the directory full or read-only) is written
// now: a feed that stays unchanged answers 304 to every later refresh, so
// this is the set's only chance to reach the disk. If that fails again the
// error is returned, for the caller to retry.
func (s *Store) NotModified(source string) error {
	s.mu.Lock()
	st, ok := s.m[source]
	if !ok || st.LastSuccess.IsZero() {
		s.mu.Unlock()
		return fmt.Errorf("source %s: 304 without a stored set", source)
	}
	now := s.now()
	st.LastSuccess, st.LastAttempt, st.LastError, st.Restored = now, now, "", false
	st.Held = nil // the feed is back to the good set
	unsaved := st.SaveError != ""
	s.mu.Unlock()
	if unsaved {
		return s.resave(source, st)
	}
	return nil
}

// resave writes st, a set an earlier save failed to write, and clears its
// SaveError once it is on disk. A set that Success replaced meanwhile is
// left alone: Success wrote (or failed to write) the newer one itself.
func (s *Store) resave(source string, st *State) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	current, snap := s.m[source] == st, *st
	s.mu.Unlock()
	if !current {
		return nil
	}
	err := writeFile(s.dir, &snap)
	if err != nil {
		err = fmt.Errorf("persist source %s: %w", source, err)
		s.log.Warn("breakout source set still not saved", "source", source, "err", err)
	} else {
		s.log.Info("breakout source set saved after an earlier failure", "source", source, "prefixes", len(snap.Entries))
	}
	s.mu.Lock()
	if s.m[source] == st {
		st.SaveError = ""
		if err != nil {
			st.SaveError = err.Error()
		}
	}
	s.mu.Unlock()
	return err
}

// Failure records a failed refresh. The previous set, if any, is kept,
// less entries past their expiry, and the source becomes stale.
func (s *Store) Failure(source string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[source]
	if !ok {
		st = &State{Source: source}
		s.m[source] = st
	}
	st.LastAttempt = s.now()
	st.dropExpired(st.LastAttempt)
	st.LastError = err.Error()
	if st.LastError == "" {
		st.LastError = "failed"
	}
}

// Get returns a copy of the source's state.
func (s *Store) Get(source string) (State, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[source]
	if !ok {
		return State{}, false
	}
	return *st, true
}

// States returns a copy of every source's state, by source name.
func (s *Store) States() []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]State, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b State) int { return strings.Compare(a.Source, b.Source) })
	return out
}

// Entries returns the union of all sources' last good entries: the input
// of breakout.Compile.
func (s *Store) Entries() []breakout.Entry {
	var out []breakout.Entry
	for _, st := range s.States() {
		out = append(out, st.Entries...)
	}
	return out
}

// Forget drops a source that is no longer configured, and its file.
func (s *Store) Forget(source string) error {
	s.mu.Lock()
	delete(s.m, source)
	s.mu.Unlock()
	err := os.Remove(filepath.Join(s.dir, fileName(source)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("forget source %s: %w", source, err)
	}
	return nil
}
