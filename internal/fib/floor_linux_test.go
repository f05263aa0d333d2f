package fib

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPrebuiltRoutes: the floor's pre-built install puts every route in
// (a dump finds them all), and a second send of the same reports the
// kernel's EEXIST rather than passing silently; its pre-built delete
// takes every route out, and a second one reports ESRCH.
func TestPrebuiltRoutes(t *testing.T) {
	ns := newNS(t, 1)
	routes := viaFamily(realLooking(12000, 2000), ns.links[0]) // several chunks
	p := ns.h.PrebuildRoutes(testTable, testProto, routes)
	if err := ns.h.SendPrebuilt(p); err != nil {
		t.Fatal(err)
	}
	got, err := ns.h.Dump(testTable, testProto)
	if err != nil || len(got) != len(routes) {
		t.Fatalf("dump after the prebuilt send: %d routes (%v), want %d", len(got), err, len(routes))
	}
	again := ns.h.PrebuildRoutes(testTable, testProto, routes)
	if err := ns.h.SendPrebuilt(again); !errors.Is(err, unix.EEXIST) {
		t.Errorf("sending the same routes again: %v, want EEXIST", err)
	}

	del := ns.h.PrebuildDeletes(testTable, testProto, routes)
	if err := ns.h.SendPrebuilt(del); err != nil {
		t.Fatal(err)
	}
	got, err = ns.h.Dump(testTable, testProto)
	if err != nil || len(got) != 0 {
		t.Fatalf("dump after the prebuilt delete: %d routes (%v), want 0", len(got), err)
	}
	again = ns.h.PrebuildDeletes(testTable, testProto, routes)
	if err := ns.h.SendPrebuilt(again); !errors.Is(err, unix.ESRCH) {
		t.Errorf("deleting the same routes again: %v, want ESRCH", err)
	}
}

// TestPrebuiltVia: the floor's routes of a ViaSet with Objects are the
// ones SyncSet installs: on the family's nexthop object, so a SyncSet of
// the same set afterwards finds nothing to change.
func TestPrebuiltVia(t *testing.T) {
	ns := newNS(t, 1)
	set := viaTestSet(ns, 3000, 200, true)
	if err := ns.h.SendPrebuilt(ns.h.PrebuildVia(testTable, testProto, set)); err != nil {
		t.Fatal(err)
	}
	id4, id6, _ := ViaObjectIDs(testTable)
	if n4, n6 := routesOn(t, ns, "-4", id4), routesOn(t, ns, "-6", id6); n4 != 3000 || n6 != 200 {
		t.Fatalf("prebuilt routes on their objects: %d and %d, want 3000 and 200", n4, n6)
	}
	if st, err := ns.h.SyncSet(testTable, testProto, set); err != nil || st != (SyncStats{Unchanged: 3200}) {
		t.Fatalf("SyncSet after the prebuilt install: %+v %v, want all 3200 unchanged", st, err)
	}
}
