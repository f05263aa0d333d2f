package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// server counts requests and answers with h; loopback only.
func server(t *testing.T, h func(n int, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(int(n.Add(1)), w, r)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// fast fetches from the plain http test servers quickly.
func fast() *Fetcher {
	return &Fetcher{Timeout: 2 * time.Second, Retries: 2, Backoff: time.Millisecond, MaxBytes: 1 << 10, AllowHTTP: true}
}

func TestFetchConditional(t *testing.T) {
	s, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("1.1.1.0/24"))
	})
	f := fast()
	res, err := f.Fetch(context.Background(), s.URL, Validators{})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Body: []byte("1.1.1.0/24"), Validators: Validators{`"v1"`, "Mon, 02 Jan 2006 15:04:05 GMT"}, Attempts: 1}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("first fetch (-want +got):\n%s", diff)
	}
	res, err = f.Fetch(context.Background(), s.URL, res.Validators)
	if err != nil {
		t.Fatal(err)
	}
	want = Result{NotModified: true, Validators: want.Validators, Attempts: 1}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("conditional fetch (-want +got):\n%s", diff)
	}
}

func TestFetchIfModifiedSince(t *testing.T) {
	const lm = "Mon, 02 Jan 2006 15:04:05 GMT"
	s, _ := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-Modified-Since") == lm {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("x"))
	})
	res, err := fast().Fetch(context.Background(), s.URL, Validators{LastModified: lm})
	if err != nil || !res.NotModified || res.Validators.LastModified != lm {
		t.Errorf("got %+v, %v; want NotModified keeping Last-Modified", res, err)
	}
}

func TestFetchFailures(t *testing.T) {
	tests := []struct {
		name     string
		h        func(n int, w http.ResponseWriter, r *http.Request)
		is       error
		code     int // StatusError code, or 0
		requests int32
	}{
		{"500 retried then given up", func(_ int, w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }, nil, 500, 3},
		{"404 not retried", func(_ int, w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) }, nil, 404, 1},
		{"empty body", func(int, http.ResponseWriter, *http.Request) {}, ErrEmpty, 0, 3},
		{"oversized by Content-Length", func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(strings.Repeat("x", 2<<10)))
		}, ErrTooLarge, 0, 1},
		{"oversized chunked", func(_ int, w http.ResponseWriter, _ *http.Request) {
			for range 4 {
				w.Write([]byte(strings.Repeat("x", 600)))
				w.(http.Flusher).Flush()
			}
		}, ErrTooLarge, 0, 1},
		{"truncated body", func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "500")
			w.Write([]byte(`{"syncToken":`))
		}, nil, 0, 3},
		{"unexpected 304", func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotModified) }, nil, 304, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, n := server(t, tt.h)
			res, err := fast().Fetch(context.Background(), s.URL, Validators{})
			if err == nil {
				t.Fatalf("no error: %+v", res)
			}
			if res.Body != nil {
				t.Error("body returned with error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			var se *StatusError
			if tt.code != 0 && (!errors.As(err, &se) || se.Code != tt.code) {
				t.Errorf("error %v, want status %d", err, tt.code)
			}
			if !strings.Contains(err.Error(), s.URL) {
				t.Errorf("error %q does not name the URL", err)
			}
			if got := n.Load(); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
		})
	}
}

func TestFetchRecovers(t *testing.T) {
	s, _ := server(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	})
	res, err := fast().Fetch(context.Background(), s.URL, Validators{})
	if err != nil || string(res.Body) != "ok" || res.Attempts != 2 {
		t.Errorf("got %+v, %v; want ok on attempt 2", res, err)
	}
}

// TestFetchHang: a server that never answers costs Retries+1 timeouts, not
// forever.
func TestFetchHang(t *testing.T) {
	release := make(chan struct{})
	s, n := server(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	f := &Fetcher{Timeout: 100 * time.Millisecond, Retries: 1, Backoff: time.Millisecond, AllowHTTP: true}
	start := time.Now()
	_, err := f.Fetch(context.Background(), s.URL, Validators{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want a deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v, not bounded by the timeout", d)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
}

func TestFetchCancel(t *testing.T) {
	s, _ := server(t, func(_ int, w http.ResponseWriter, _ *http.Request) { http.Error(w, "x", 500) })
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fetcher{Retries: 5, Backoff: time.Hour, AllowHTTP: true}
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := f.Fetch(ctx, s.URL, Validators{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	var se *StatusError
	if !errors.As(err, &se) {
		t.Errorf("error %v lost the last failure", err)
	}
}

// TestFetchHTTPSOnly: without AllowHTTP a plain http URL is refused before
// any request, and so is an https feed's redirect to http; https redirects
// are followed, and AllowHTTP lets both through.
func TestFetchHTTPSOnly(t *testing.T) {
	plain, plainHits := server(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.Write([]byte("198.18.0.0/24")) })
	var tlsHits atomic.Int32
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsHits.Add(1)
		switch r.URL.Path {
		case "/to-http":
			http.Redirect(w, r, plain.URL+"/list", http.StatusFound)
		case "/to-https":
			http.Redirect(w, r, "/list", http.StatusMovedPermanently)
		default:
			w.Write([]byte("198.18.1.0/24"))
		}
	}))
	t.Cleanup(secure.Close)
	tests := []struct {
		name      string
		url       string
		allowHTTP bool
		want      string // body, or "" for ErrInsecure
		plainHits int32  // requests that reached the plain server
		tlsHits   int32  // and the https one: a refusal is not retried
	}{
		{"https", secure.URL + "/list", false, "198.18.1.0/24", 0, 1},
		{"https to https", secure.URL + "/to-https", false, "198.18.1.0/24", 0, 2},
		{"http refused", plain.URL + "/list", false, "", 0, 0},
		{"https to http refused", secure.URL + "/to-http", false, "", 0, 1},
		{"http allowed", plain.URL + "/list", true, "198.18.0.0/24", 1, 0},
		{"https to http allowed", secure.URL + "/to-http", true, "198.18.0.0/24", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plainHits.Store(0)
			tlsHits.Store(0)
			f := &Fetcher{Client: secure.Client(), Timeout: 2 * time.Second, Retries: 2, Backoff: time.Millisecond, AllowHTTP: tt.allowHTTP}
			res, err := f.Fetch(context.Background(), tt.url, Validators{})
			switch {
			case tt.want == "" && !errors.Is(err, ErrInsecure):
				t.Errorf("error %v, want ErrInsecure", err)
			case tt.want != "" && (err != nil || string(res.Body) != tt.want):
				t.Errorf("got %q, %v; want %q", res.Body, err, tt.want)
			}
			if p, s := plainHits.Load(), tlsHits.Load(); p != tt.plainHits || s != tt.tlsHits {
				t.Errorf("requests: %d plain http, %d https; want %d and %d", p, s, tt.plainHits, tt.tlsHits)
			}
		})
	}
}

// TestFetchKeepsCallersRedirectPolicy: a client's own CheckRedirect still
// runs after the scheme check.
func TestFetchKeepsCallersRedirectPolicy(t *testing.T) {
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a" {
			http.Redirect(w, r, "/b", http.StatusFound)
			return
		}
		w.Write([]byte("x"))
	}))
	t.Cleanup(secure.Close)
	c := secure.Client()
	stop := errors.New("no redirects here")
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return stop }
	_, err := (&Fetcher{Client: c}).Fetch(context.Background(), secure.URL+"/a", Validators{})
	if !errors.Is(err, stop) {
		t.Errorf("error %v, want the client's own", err)
	}
}
