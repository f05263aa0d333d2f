package daemon

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Why trim: the runtime's next collection waits until as much again as
// the live heap has been allocated, and its scavenger keeps free heap below
// that goal resident. An idle edge makes about 200 KiB of garbage a second
// (BFD, probes, the 10 s read-backs) and each new page it touches stays
// resident. Before wireguard-go's message buffers moved off the heap
// (third_party/wireguard/PATCHES.md) they made the goal about 70 MiB
// larger for three tunnels, and an idle edge was measured at 68 MiB RSS a
// minute after start growing 2 MiB every 10 s. The goal is smaller now but
// the mechanism the same: every trimEvery, when garbage and free heap
// together reach trimMinBytes, the heap is collected and the free part
// handed back at once: one collection, a few ms.
//
// A collection costs in proportion to the live heap: tens of ms for an
// edge, but a hub or an announcer holding a large RIB could pay hundreds
// every 10 s. trimCostShare bounds it: after a trim that took d, the next
// waits at least d × trimCostShare (1 % of a core at most).
const (
	trimEvery     = 10 * time.Second
	trimMinBytes  = 4 << 20
	trimCostShare = 100
)

// The runtime's own figures (runtime/metrics): heap still resident but
// free; heap taken by objects, live or not yet found dead; and what the
// last collection found live.
const (
	freeHeapMetric    = "/memory/classes/heap/free:bytes"
	objectsHeapMetric = "/memory/classes/heap/objects:bytes"
	liveHeapMetric    = "/gc/heap/live:bytes"
)

// trimmer collects and returns heap to the kernel when enough of it is
// garbage or free.
type trimmer struct {
	reclaimable func() uint64 // free heap still resident, plus garbage
	release     func()        // collect, and return what is free
	now         func() time.Time
	log         *slog.Logger

	next time.Time // no trim before: the last one's cost, spread

	trims    atomic.Int64
	released atomic.Int64 // bytes, as reclaimable() saw them before each trim
}

func newTrimmer(log *slog.Logger) *trimmer {
	return &trimmer{reclaimable: reclaimableHeap, release: debug.FreeOSMemory, now: time.Now, log: log}
}

// reclaimableHeap: free heap not yet returned, plus the objects allocated
// since the last collection beyond what it found live (an upper bound on
// the garbage: some of them are live).
func reclaimableHeap() uint64 {
	s := []metrics.Sample{{Name: freeHeapMetric}, {Name: objectsHeapMetric}, {Name: liveHeapMetric}}
	metrics.Read(s)
	for _, v := range s {
		if v.Value.Kind() != metrics.KindUint64 {
			return 0
		}
	}
	free, objects, live := s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
	if objects > live {
		free += objects - live
	}
	return free
}

// check trims when at least trimMinBytes are reclaimable and the last
// trim's cost allows, and says how much were.
func (t *trimmer) check() uint64 {
	start := t.now()
	if start.Before(t.next) {
		return 0
	}
	f := t.reclaimable()
	if f < trimMinBytes {
		return 0
	}
	t.release()
	took := t.now().Sub(start)
	t.next = start.Add(took * trimCostShare)
	t.trims.Add(1)
	t.released.Add(int64(f))
	t.log.Debug("heap collected and returned to the kernel", "reclaimable_mib", f>>20, "took", took)
	return f
}

// run checks every trimEvery until ctx ends.
func (t *trimmer) run(ctx context.Context) {
	tick := time.NewTicker(trimEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.check()
		}
	}
}
