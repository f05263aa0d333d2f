package fib

import (
	"strings"
	"testing"
)

// TestSumPrefixes: every table's Prefixes line counts, nothing else does;
// a file without one is an error, not zero routes.
func TestSumPrefixes(t *testing.T) {
	stat := `Basic info: size of leaf: 48 bytes, size of tnode: 40 bytes.
Id 6100:
	Aver depth:     3.17
	Prefixes:       160000
Null ptrs: 364288
Main:
	Leaves:         3
	Prefixes:       3
Local:
	Prefixes:       4
`
	if n, err := sumPrefixes(strings.NewReader(stat)); n != 160007 || err != nil {
		t.Errorf("sumPrefixes = %d, %v; want 160007", n, err)
	}
	if n, err := sumPrefixes(strings.NewReader("Basic info: size of leaf: 48 bytes\n")); err == nil {
		t.Errorf("no table: %d, want an error", n)
	}
}

// TestIPv4Prefixes: the count follows the routes in the namespace.
func TestIPv4Prefixes(t *testing.T) {
	ns := newNS(t, 1)
	var before, after int
	var err error
	ns.inside(t, func() { before, err = IPv4Prefixes() })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns.h.Sync(testTable, testProto, viaFamily(realLooking(300, 0), ns.links[0])); err != nil {
		t.Fatal(err)
	}
	ns.inside(t, func() { after, err = IPv4Prefixes() })
	if err != nil || after-before != 300 {
		t.Errorf("IPv4 prefixes %d before 300 routes were added, %d after (%v): want 300 more", before, after, err)
	}
}
