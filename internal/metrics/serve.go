package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
)

// Timeouts of the metrics listener: a scrape is one short request, so a
// client that sends its headers slowly, never reads the answer or keeps an
// idle connection open is cut off instead of holding a goroutine and a
// socket forever.
// Tests shorten them.
var timeouts = struct{ header, read, write, idle time.Duration }{
	header: 5 * time.Second, read: 10 * time.Second, write: 30 * time.Second, idle: 60 * time.Second,
}

const maxHeaderBytes = 16 << 10

// ErrNotLoopback is returned by Serve for an address other than loopback
// without the operator's opt-in ([api] metrics_public).
var ErrNotLoopback = errors.New("metrics address is not loopback (set metrics_public to serve it there)")

// Server serves /metrics over HTTP.
type Server struct {
	http *http.Server
	addr net.Addr
}

// Serve listens on addr (an IP literal and a port) and serves the metrics
// of one status snapshot per scrape. A non-loopback address needs public.
func Serve(addr string, public bool, snapshot func() api.Status, log *slog.Logger) (*Server, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %q: %w", addr, err)
	}
	if !ap.Addr().Unmap().IsLoopback() && !public {
		return nil, fmt.Errorf("serve metrics on %s: %w", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(NewCollector(snapshot)))
	s := &Server{addr: ln.Addr(), http: &http.Server{Handler: mux,
		ReadHeaderTimeout: timeouts.header, ReadTimeout: timeouts.read,
		WriteTimeout: timeouts.write, IdleTimeout: timeouts.idle, MaxHeaderBytes: maxHeaderBytes,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server", "err", err)
		}
	}()
	return s, nil
}

// Addr is where the server listens (the port chosen for ":0").
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops serving, waiting a second for scrapes in progress.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.http.Shutdown(ctx)
}
