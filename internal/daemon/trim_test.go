package daemon

import (
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestTrimOnlyPastTheThreshold(t *testing.T) {
	free := uint64(trimMinBytes - 1)
	released := 0
	clock := time.Date(2026, 12, 5, 11, 0, 0, 0, time.UTC)
	tr := &trimmer{reclaimable: func() uint64 { return free }, release: func() { released++ },
		now: func() time.Time { return clock }, log: quietLog()}
	if got := tr.check(); got != 0 || released != 0 {
		t.Fatalf("%d bytes free: trimmed %d (released %d times), want nothing under %d", free, got, released, trimMinBytes)
	}
	free = 40 << 20
	if got := tr.check(); got != free || released != 1 {
		t.Fatalf("%d bytes free: trimmed %d, released %d times; want all of it once", free, got, released)
	}
	if tr.trims.Load() != 1 || tr.released.Load() != 40<<20 {
		t.Fatalf("counted %d trims, %d bytes; want 1, %d", tr.trims.Load(), tr.released.Load(), 40<<20)
	}
}

// TestTrimSpreadsItsCost: a trim that took 50 ms (a large live heap)
// waits 5 s before the next: at most 1 % of a core.
func TestTrimSpreadsItsCost(t *testing.T) {
	clock := time.Date(2026, 12, 5, 11, 0, 0, 0, time.UTC)
	released := 0
	tr := &trimmer{reclaimable: func() uint64 { return 64 << 20 }, log: quietLog(),
		now:     func() time.Time { return clock },
		release: func() { released++; clock = clock.Add(50 * time.Millisecond) }}
	tr.check()
	clock = clock.Add(time.Second)
	if tr.check(); released != 1 {
		t.Fatalf("a second trim 1 s after one that took 50 ms: released %d times, want once", released)
	}
	clock = clock.Add(5 * time.Second)
	if tr.check(); released != 2 {
		t.Fatalf("6 s after a 50 ms trim: released %d times, want twice", released)
	}
}

// TestTrimReturnsGarbageAndFreeHeap: 64 MiB touched and dropped is
// garbage until a collection, then free heap the runtime keeps; either
// way the real trimmer collects it and gives it back to the kernel.
func TestTrimReturnsGarbageAndFreeHeap(t *testing.T) {
	// Collections off while dropping: in this small test process the
	// runtime would otherwise collect and reuse the blocks as it goes.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, collected := range []bool{false, true} {
		drop64MiB()
		if collected {
			runtime.GC()
		}
		before := reclaimableHeap()
		if before < 48<<20 {
			t.Fatalf("64 MiB dropped (collected: %v), but only %d bytes reclaimable", collected, before)
		}
		tr := newTrimmer(quietLog())
		if got := tr.check(); got == 0 {
			t.Fatalf("%d bytes reclaimable: not trimmed", before)
		}
		if after := reclaimableHeap(); after >= trimMinBytes {
			t.Fatalf("collected: %v; %d bytes reclaimable before the trim, %d after", collected, before, after)
		}
	}
}

func drop64MiB() {
	blocks := make([][]byte, 64)
	for i := range blocks {
		blocks[i] = make([]byte, 1<<20)
		for j := 0; j < len(blocks[i]); j += 4096 {
			blocks[i][j] = 1 // touch every page: resident
		}
	}
	runtime.KeepAlive(blocks)
}

// TestGCPercent: the daemon collects at gcPercent, unless GOGC says
// otherwise.
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	log := slog.New(slog.DiscardHandler)
	t.Setenv("GOGC", "")
	SetGCPercent(log)
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent %d, want %d", got, gcPercent)
	}
	t.Setenv("GOGC", "200")
	SetGCPercent(log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d with GOGC=200 in the environment, want it left alone (100)", got)
	}
}
