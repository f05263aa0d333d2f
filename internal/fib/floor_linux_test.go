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
