package metrics

import (
	"runtime"
	"runtime/debug"

	"github.com/uplinkd/uplinkd/internal/api"
)

// daemon emits what describes the process and the site.
func (e emitter) daemon(st api.Status) {
	version, revision := buildVersion()
	e.gauge(descBuildInfo, 1, version, revision, runtime.Version())
	e.gauge(descInfo, 1, st.Role, st.Site)
	e.timestamp(descReloaded, st.Reloaded)
	e.flag(descReconcileError, st.LastErr != "", "daemon")
}

// buildVersion reads the module version and VCS revision the Go toolchain
// stamped into the binary; "" where it did not (go run, -buildvcs=false).
func buildVersion() (version, revision string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return bi.Main.Version, revision
}
