package metrics

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
)

func serveTest(t *testing.T) *Server {
	t.Helper()
	s, err := Serve("127.0.0.1:0", false, func() api.Status { return api.Status{Role: "hub", Site: "vps"} },
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestServeRefusesPublicAddressWithoutOptIn(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0"} {
		if s, err := Serve(addr, false, edgeStatus, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrNotLoopback) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Serve(%s) without opt-in: %v, want ErrNotLoopback", addr, err)
		}
	}
	s, err := Serve("0.0.0.0:0", true, edgeStatus, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Serve(0.0.0.0) with opt-in: %v", err)
	}
	s.Close()
}

func TestServeScrapes(t *testing.T) {
	s := serveTest(t)
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `uplinkd_info{role="hub",site="vps"} 1`) {
		t.Errorf("scrape lacks uplinkd_info:\n%s", body)
	}
}

// TestServeCutsOffSlowClient: a client that opens a connection and sends
// half a request line is disconnected after the header timeout; before,
// the daemon's listener had only that one timeout and no idle or write
// timeout, and a client idle after a scrape held its connection forever.
func TestServeCutsOffSlowClient(t *testing.T) {
	old := timeouts
	timeouts.header, timeouts.idle = 500*time.Millisecond, time.Second
	t.Cleanup(func() { timeouts = old })
	s := serveTest(t)
	for _, tc := range []struct {
		name string
		send string
		max  time.Duration
	}{
		{"headers never finished", "GET /metrics HTTP/1.1\r\nHost: x\r\n", timeouts.header + time.Second},
		{"idle after a scrape", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", timeouts.idle + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			begin := time.Now()
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(tc.max + 5*time.Second))
			io.Copy(io.Discard, c) // returns when the server closes
			if took := time.Since(begin); took > tc.max {
				t.Errorf("connection held %v, want closed within %v", took, tc.max)
			} else {
				t.Logf("MEASURE %s: closed by the server after %v", tc.name, took.Round(100*time.Millisecond))
			}
		})
	}
}

// TestServeHasEveryTimeout: the daemon's listener sets them all.
func TestServeHasEveryTimeout(t *testing.T) {
	h := serveTest(t).http
	if h.ReadHeaderTimeout <= 0 || h.ReadTimeout <= 0 || h.WriteTimeout <= 0 || h.IdleTimeout <= 0 || h.MaxHeaderBytes <= 0 {
		t.Errorf("timeouts header %v read %v write %v idle %v, max header %d bytes; want all set",
			h.ReadHeaderTimeout, h.ReadTimeout, h.WriteTimeout, h.IdleTimeout, h.MaxHeaderBytes)
	}
}
