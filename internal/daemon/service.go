package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/metrics"
)

// serveMetrics serves Prometheus metrics at addr ("" serves nothing) and
// returns what stops it.
func serveMetrics(addr string, status func() api.Status, log *slog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return func() {}, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(metrics.NewCollector(status)))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server", "err", err)
		}
	}()
	log.Info("metrics served", "addr", "http://"+addr+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
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
