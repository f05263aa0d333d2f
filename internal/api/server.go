package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// StatusFunc produces a fresh status snapshot per request.
type StatusFunc func() Status

// ExplainFunc says how the daemon routes one address.
type ExplainFunc func(netip.Addr) Explanation

// Server is the control socket.
type Server struct {
	http *http.Server
	ln   net.Listener
	path string
	mux  *http.ServeMux // HandleAccept adds to it
}

// Listen opens the socket at path, owned by root and readable only by root
// or by members of group when one is set. A stale socket from a killed run
// is replaced; anything else at path is refused (ErrNotSocket).
func Listen(path, group string, status StatusFunc, explain ExplainFunc, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := restrict(path, group); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /"+Version+"/status", func(w http.ResponseWriter, _ *http.Request) {
		st := status()
		st.SchemaVersion = SchemaVersion
		writeJSON(w, st)
	})
	mux.HandleFunc("GET /"+Version+"/explain", func(w http.ResponseWriter, r *http.Request) {
		a, err := netip.ParseAddr(r.URL.Query().Get("ip"))
		if err != nil {
			http.Error(w, "ip: not an address", http.StatusBadRequest)
			return
		}
		writeJSON(w, explain(a))
	})
	// IdleTimeout: a client that keeps its connection open (each
	// NewClient has its own pool) must not hold a goroutine forever.
	s := &Server{ln: ln, path: path, mux: mux, http: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout: 30 * time.Second, ConnContext: withPeer,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}}
	go s.http.Serve(ln)
	return s, nil
}

// ErrNotSocket is returned by Listen when something other than a socket
// is at the socket's path: uplinkd deletes only a socket of its own kind.
var ErrNotSocket = errors.New("not a socket")

// removeStale deletes a socket nobody answers on (a run that was killed
// left it), refuses to start beside a live daemon, and refuses to delete
// anything that is not a socket: a mistyped [api] socket must not cost the
// operator a file.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("control socket %s: %w", path, err)
	case fi.Mode().Type() != os.ModeSocket:
		return fmt.Errorf("control socket %s: a %s is there, %w (uplinkd will not delete it: move it away or set [api] socket to another path)",
			path, fileKind(fi.Mode()), ErrNotSocket)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s is in use: another uplinkd is running", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale control socket %s: %w", path, err)
	}
	return nil
}

// fileKind names what a mode is, for the message.
func fileKind(m os.FileMode) string {
	switch m.Type() {
	case 0:
		return "regular file"
	case os.ModeDir:
		return "directory"
	case os.ModeSymlink:
		return "symbolic link"
	case os.ModeNamedPipe:
		return "named pipe"
	case os.ModeDevice, os.ModeDevice | os.ModeCharDevice:
		return "device"
	}
	return "file of mode " + m.Type().String()
}

// restrict makes the socket 0600 root, or 0660 with the configured group.
func restrict(path, group string) error {
	mode := os.FileMode(0o600)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return fmt.Errorf("control socket group %q: %w", group, err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(path, 0, gid); err != nil {
			return fmt.Errorf("control socket group: %w", err)
		}
		mode = 0o660
	}
	return os.Chmod(path, mode)
}

// Close stops serving and removes the socket.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	os.Remove(s.path)
	return err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
