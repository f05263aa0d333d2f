package lkg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// SuccessUntil records a good set whose entries stop being good at
// expires (one per entry): DNS answers past their TTL. Unlike Success it
// keeps the set in memory only, and removes a file an earlier
// configuration of the source left: restored after a restart, answers
// could outlive their TTL, and re-asking costs a round trip.
func (s *Store) SuccessUntil(source string, es []breakout.Entry, expires []time.Time) error {
	if len(es) != len(expires) {
		return fmt.Errorf("source %s: %d entries, %d expiry times", source, len(es), len(expires))
	}
	now := s.now()
	st := &State{Source: source, Entries: es, Expires: expires, LastSuccess: now, LastAttempt: now}
	if expires == nil {
		st.Expires = []time.Time{} // an empty set is still one that expires
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	s.m[source] = st
	s.mu.Unlock()
	err := os.Remove(filepath.Join(s.dir, fileName(source)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("source %s: remove old state file: %w", source, err)
	}
	return nil
}

// NextExpiry is when the first of the set's entries goes bad; zero when
// none expires.
func (s State) NextExpiry() time.Time {
	var first time.Time
	for _, t := range s.Expires {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first
}

// dropExpired removes the entries past their expiry at now. It builds new
// slices: copies of the State handed out share the old ones.
func (s *State) dropExpired(now time.Time) {
	if s.Expires == nil {
		return
	}
	var es []breakout.Entry
	exp := []time.Time{}
	for i, t := range s.Expires {
		if t.After(now) {
			es = append(es, s.Entries[i])
			exp = append(exp, t)
		}
	}
	s.Entries, s.Expires = es, exp
}
