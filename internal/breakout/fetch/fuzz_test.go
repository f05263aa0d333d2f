package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fuzzTransport answers the first request with the fuzzed status, headers
// and body, and every later one (a redirect's) with 200 and the body. It
// records each URL asked for.
type fuzzTransport struct {
	code     int
	location string
	clen     int64
	etag     string
	body     []byte
	mu       sync.Mutex
	asked    []*url.URL
}

func (ft *fuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ft.mu.Lock()
	ft.asked = append(ft.asked, r.URL)
	first := len(ft.asked) == 1
	ft.mu.Unlock()
	code := 200
	if first {
		code = ft.code
	}
	h := http.Header{}
	if ft.location != "" {
		h.Set("Location", ft.location)
	}
	if ft.etag != "" {
		h.Set("ETag", ft.etag)
	}
	if ft.clen >= 0 {
		h.Set("Content-Length", strconv.FormatInt(ft.clen, 10))
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(bytes.NewReader(ft.body)),
		ContentLength: ft.clen, Request: r, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

// FuzzFetch: whatever a server answers (status, Location, Content-Length,
// body), Fetch returns a body within MaxBytes and never empty, or an error
// and no body; and without AllowHTTP no plain http URL is ever asked for.
func FuzzFetch(f *testing.F) {
	f.Add(uint16(200), "", int64(-1), "", []byte("198.18.0.0/24\n"), false, false)
	f.Add(uint16(302), "http://feed.example/list", int64(-1), "", []byte("x"), false, false)
	f.Add(uint16(301), "https://feed.example/other", int64(3), "\"v1\"", []byte("abc"), false, true)
	f.Add(uint16(304), "", int64(0), "\"v1\"", []byte(nil), true, true)
	f.Add(uint16(200), "", int64(1<<40), "", []byte("short"), false, false)
	f.Add(uint16(307), "//feed.example:99999/x", int64(-1), "", bytes.Repeat([]byte("y"), 100), true, false)
	f.Fuzz(func(t *testing.T, code uint16, location string, clen int64, etag string, body []byte, allowHTTP, conditional bool) {
		ft := &fuzzTransport{code: 100 + int(code)%500, location: location, clen: max(clen, -1), etag: etag, body: body}
		fe := &Fetcher{Client: &http.Client{Transport: ft}, Timeout: time.Second, MaxBytes: 64, Retries: 1,
			Backoff: time.Microsecond, MaxBackoff: time.Microsecond, AllowHTTP: allowHTTP}
		var have Validators
		if conditional {
			have.ETag = `"v0"`
		}
		res, err := fe.Fetch(context.Background(), "https://feed.example/list", have)
		switch {
		case err != nil && (res.Body != nil || res.NotModified):
			t.Fatalf("error %v returned with a result %+v", err, res)
		case err == nil && res.NotModified && (res.Body != nil || !conditional):
			t.Fatalf("304 result %+v for a request with validators %v", res, conditional)
		case err == nil && !res.NotModified && (len(res.Body) == 0 || int64(len(res.Body)) > fe.MaxBytes):
			t.Fatalf("body of %d bytes returned, limit %d", len(res.Body), fe.MaxBytes)
		case errors.Is(err, ErrInsecure) && allowHTTP:
			t.Fatalf("plain http refused though allowed: %v", err)
		}
		ft.mu.Lock()
		defer ft.mu.Unlock()
		for _, u := range ft.asked {
			if u.Scheme != "https" && !(allowHTTP && u.Scheme == "http") {
				t.Fatalf("asked for %s (allow http: %v)", u, allowHTTP)
			}
		}
	})
}
