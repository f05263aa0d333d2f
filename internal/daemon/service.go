package daemon

import (
	"log/slog"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/metrics"
)

// serveMetrics serves Prometheus metrics at cfg.Metrics ("" serves nothing) and
// returns what stops it.
func serveMetrics(cfg config.API, status func() api.Status, log *slog.Logger) (func(), error) {
	if cfg.Metrics == "" {
		return func() {}, nil
	}
	srv, err := metrics.Serve(cfg.Metrics, cfg.MetricsPublic, status, log)
	if err != nil {
		return func() {}, err
	}
	log.Info("metrics served", "addr", "http://"+cfg.Metrics+"/metrics")
	return func() { srv.Close() }, nil
}

// notify tells systemd (Type=notify) where the daemon is; outside systemd
// it does nothing.
func notify(log *slog.Logger, fns ...func() (bool, error)) {
	for _, fn := range fns {
		if _, err := fn(); err != nil {
			log.Warn("sd_notify", "err", err)
		}
	}
}
