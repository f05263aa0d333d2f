package daemon

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/procstat"
)

// setMemoryLimit applies memory_limit_mb as the Go runtime's soft memory
// limit, unless GOMEMLIMIT is set: an operator's environment wins, as it
// does for any Go program.
func setMemoryLimit(cfg *config.Config, log *slog.Logger) {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		log.Debug("memory limit from GOMEMLIMIT, memory_limit_mb ignored", "GOMEMLIMIT", env)
		return
	}
	limit := int64(math.MaxInt64) // the runtime's "no limit"
	if cfg.MemoryLimitMB > 0 {
		limit = int64(cfg.MemoryLimitMB) << 20
	}
	if old := debug.SetMemoryLimit(limit); old != limit {
		log.Debug("memory limit set", "mib", cfg.MemoryLimitMB)
	}
}

// gcPercent is the collector's GOGC unless the environment sets one. Go's
// 100 lets the heap grow to twice what the last collection found live
// before the next one runs: when a large breakout set is fetched and
// compiled the live heap jumps by tens of MB, and that doubling was most
// of the edge's peak RSS (BENCHMARKS.md row 6 on one build: 150 MiB at
// 100, 125 MiB at 50, the install as fast). A router is shorter of memory
// than of CPU, and an idle daemon allocates little: collecting twice as
// often costs it next to nothing.
const gcPercent = 50

// SetGCPercent applies gcPercent unless GOGC is set: an operator's
// environment wins, as for any Go program. Exported for the bench's
// speaker (row 5), which runs the daemon's announcer in a process of its
// own and must collect as the daemon does.
func SetGCPercent(log *slog.Logger) {
	if env := os.Getenv("GOGC"); env != "" {
		log.Debug("garbage collector target from GOGC", "GOGC", env)
		return
	}
	debug.SetGCPercent(gcPercent)
}

// memoryStatus reports the process's footprint for status and metrics.
func memoryStatus(t *trimmer) *api.Memory {
	m := &api.Memory{}
	if t != nil {
		m.Trims, m.TrimmedBytes = t.trims.Load(), t.released.Load()
	}
	if st, err := procstat.Read(0); err == nil {
		m.RSSBytes, _ = st.Bytes("VmRSS")
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		m.LimitBytes = l
	}
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		m.HeapBytes = int64(s[0].Value.Uint64())
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		m.HeapGoalBytes = int64(s[1].Value.Uint64())
	}
	return m
}
