// Package nattest is an in-memory nat.Kernel for tests without root.
package nattest

import (
	"errors"
	"slices"
	"sync"

	"github.com/uplinkd/uplinkd/internal/nat"
)

// Fake holds a table and sysctls in memory. Drift is simulated by editing
// its fields (under Lock) between calls; Fail makes the next calls fail.
type Fake struct {
	mu      sync.Mutex
	Table   []string // rule tags; nil with Present false: no table
	Present bool
	Sysctls map[string]string
	Writes  int   // WriteTable calls, and RemoveTable calls that found a table
	Fail    error // returned by every call while set
}

var _ nat.Kernel = (*Fake)(nil)

// New returns a fake with no table and forwarding off, as a fresh
// namespace has.
func New() *Fake {
	return &Fake{Sysctls: map[string]string{
		"net/ipv4/ip_forward": "0", "net/ipv6/conf/all/forwarding": "0"}}
}

// Edit runs f with the fake locked, to simulate drift.
func (f *Fake) Edit(fn func(*Fake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *Fake) Rules() ([]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return nil, false, f.Fail
	}
	tags := slices.Clone(f.Table)
	slices.Sort(tags)
	return tags, f.Present, nil
}

func (f *Fake) WriteTable(d nat.Desired) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return f.Fail
	}
	f.Table, f.Present = d.Rules(), true
	f.Writes++
	return nil
}

func (f *Fake) RemoveTable() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return f.Fail
	}
	if f.Present {
		f.Writes++
	}
	f.Table, f.Present = nil, false
	return nil
}

// ErrNoSysctl is returned for a key the fake does not hold.
var ErrNoSysctl = errors.New("no such sysctl")

func (f *Fake) Sysctl(key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return "", f.Fail
	}
	v, ok := f.Sysctls[key]
	if !ok {
		return "", ErrNoSysctl
	}
	return v, nil
}

func (f *Fake) SetSysctl(key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return f.Fail
	}
	f.Sysctls[key] = value
	return nil
}
