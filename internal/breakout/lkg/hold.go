package lkg

import (
	"fmt"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// Held is a fetched set the guards refused (breakout.CheckUpdate): it
// waits, in memory only, for an operator to accept it, while the source's
// Entries stay its last good set, on disk as in the table. A later fetch
// that passes, or a 304 for the good set, ends the hold.
type Held struct {
	Entries []breakout.Entry
	Fetch   Fetch     // what Success gets when the set is accepted
	Reason  string    // why it is held, e.g. "update of source aws held: it removes 990 of 1000 prefixes …"
	Since   time.Time // when the source was first held
	Last    time.Time // when the held set was last fetched
}

// Check judges a fetched set before it replaces the source's last good
// set: prev is the source's state (zero if it has none), others are the
// other sources' sets. An error holds the set.
type Check func(prev State, others [][]breakout.Entry) error

// Offer records a good fetch as Success does, if check lets it through;
// else the set is held (State.Held) and the last good set stays. hold is
// check's error; err is Success's (the set could not be persisted). A set
// equal to the one held already is taken unchecked: nothing changes.
func (s *Store) Offer(source string, es []breakout.Entry, f Fetch, check Check) (hold, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	prev, others := s.view(source)
	if check != nil && !slices.Equal(prev.Entries, es) {
		if hold = check(prev, others); hold != nil {
			s.hold(source, es, f, hold)
			return hold, nil
		}
	}
	return nil, s.success(source, es, f)
}

// view is the source's state and the other sources' sets.
func (s *Store) view(source string) (State, [][]breakout.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var prev State
	var others [][]breakout.Entry
	for name, st := range s.m {
		switch {
		case name == source:
			prev = *st
		case len(st.Entries) > 0:
			others = append(others, st.Entries)
		}
	}
	return prev, others
}

// hold keeps es as the source's held set. The fetch itself worked, so the
// source is not stale; Since stays that of the first hold.
func (s *Store) hold(source string, es []breakout.Entry, f Fetch, why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[source]
	if !ok {
		st = &State{Source: source}
		s.m[source] = st
	}
	now := s.now()
	h := &Held{Entries: es, Fetch: f, Reason: why.Error(), Since: now, Last: now}
	if st.Held != nil {
		h.Since = st.Held.Since
	}
	st.Held, st.LastAttempt, st.LastError = h, now, ""
}

// Accept takes the source's held set as its last good set, once, as
// Success would have: an operator's `uplinkd breakout accept`.
func (s *Store) Accept(source string) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	st, ok := s.m[source]
	var h *Held
	if ok {
		h = st.Held
	}
	s.mu.Unlock()
	if h == nil {
		return 0, fmt.Errorf("source %s holds no update", source)
	}
	return len(h.Entries), s.success(source, h.Entries, h.Fetch)
}

// HeldSources names the sources that hold an update, sorted.
func (s *Store) HeldSources() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, st := range s.m {
		if st.Held != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
