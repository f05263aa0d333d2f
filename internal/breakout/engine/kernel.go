package engine

import (
	"fmt"

	"github.com/uplinkd/uplinkd/internal/fib"
)

// rule is one of the engine's policy rules: `pref Priority lookup Table
// proto 211`, per family (4 or 6).
type rule struct {
	Family   int
	Priority int
	Table    uint32
}

func (r rule) String() string {
	return fmt.Sprintf("ipv%d rule pref %d lookup %d", r.Family, r.Priority, r.Table)
}

// rulesFor returns the rules that send both families to l.Table.
func rulesFor(l layout) []rule {
	return []rule{{4, l.Priority, l.Table}, {6, l.Priority, l.Table}}
}

// kernel is what the engine needs from the OS: the route table calls of
// package fib and the few rule calls it makes. linuxKernel is the real one;
// tests without root use a fake.
type kernel interface {
	// SyncSet is fib's Sync of a set given as prefixes and their gateways.
	SyncSet(table uint32, proto uint8, desired fib.RouteSet) (fib.SyncStats, error)
	Dump(table uint32, proto uint8) ([]fib.Route, error)
	// SweepTable deletes every route of uplinkd's protocol in table and
	// the table's nexthop objects (fib.ViaObjectIDs).
	SweepTable(table uint32) error
	// Rules lists uplinkd's rules (its protocol) at priority, both families.
	Rules(priority int) ([]rule, error)
	AddRule(r rule) error // succeeds if the rule is already there
	DelRule(r rule) error // succeeds if the rule is already gone
	// LinkIndex resolves Plan.Interface.
	LinkIndex(name string) (int, error)
	Close() error
}
