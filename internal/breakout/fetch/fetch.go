package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Errors a caller may want to tell apart; all are wrapped with the URL.
var (
	ErrTooLarge = errors.New("body exceeds size limit")
	ErrEmpty    = errors.New("empty body")
	// ErrInsecure refuses a plain http:// URL, or a redirect to one, of a
	// Fetcher without AllowHTTP: anyone on the path could rewrite the feed.
	ErrInsecure = errors.New("plain http refused (use https, or allow_http = true on the source)")
)

// StatusError is an HTTP answer other than 200 or an expected 304.
type StatusError struct {
	URL  string
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("fetch %s: %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// Defaults used for zero fields of a Fetcher.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMaxBytes   = 32 << 20 // the unpacked 998 k-row table is 20 MB; a 50 MB answer is refused
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// Fetcher downloads feed bodies. The zero value is usable.
type Fetcher struct {
	Client     *http.Client  // nil: http.DefaultClient; its own Timeout is left alone
	Timeout    time.Duration // per attempt, headers and body; 0: DefaultTimeout
	MaxBytes   int64         // largest body accepted; 0: DefaultMaxBytes
	Retries    int           // further attempts after a retryable failure
	Backoff    time.Duration // wait before the first retry, doubled each time; 0: DefaultBackoff
	MaxBackoff time.Duration // 0: DefaultMaxBackoff
	UserAgent  string
	// AllowHTTP permits plain http:// URLs and redirects to them. Without
	// it only https is fetched: a feed decides where traffic goes, and
	// anyone on the path of a plain http fetch could rewrite it.
	AllowHTTP bool
}

// Validators identify the version of a body the caller already holds.
type Validators struct {
	ETag         string
	LastModified string
}

// Result is one successful fetch.
type Result struct {
	Body        []byte // nil when NotModified
	NotModified bool   // 304: the caller's version is current
	Validators  Validators
	Attempts    int
}

// Fetch GETs url. With validators set it asks for the body only if it
// changed; a 304 then returns NotModified. A body over MaxBytes, an empty
// body, a non-200 status, a timeout or a cancelled ctx are errors: a feed
// is never returned cut short.
func (f *Fetcher) Fetch(ctx context.Context, url string, have Validators) (Result, error) {
	wait := or(f.Backoff, DefaultBackoff)
	var err error
	for attempt := 1; ; attempt++ {
		var res Result
		res, err = f.once(ctx, url, have)
		if err == nil {
			res.Attempts = attempt
			return res, nil
		}
		if attempt > f.Retries || !retryable(ctx, err) {
			return Result{}, err
		}
		if serr := sleep(ctx, wait); serr != nil {
			return Result{}, fmt.Errorf("%w; gave up: %w", err, serr)
		}
		wait = min(2*wait, or(f.MaxBackoff, DefaultMaxBackoff))
	}
}

func (f *Fetcher) once(ctx context.Context, url string, have Validators) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, or(f.Timeout, DefaultTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		err = f.checkScheme(req.URL)
	}
	if err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", url, err)
	}
	setHeaders(req, have, f.UserAgent)
	resp, err := f.client().Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	return f.read(resp, url, have)
}

// maxRedirects is net/http's own default, which a CheckRedirect replaces.
const maxRedirects = 10

// client is the caller's client (or http.DefaultClient) with a redirect
// policy that holds every hop to the scheme rule of the first request: an
// https feed that redirects to http would otherwise be followed.
func (f *Fetcher) client() *http.Client {
	base := f.Client
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	next := base.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := f.checkScheme(req.URL); err != nil {
			return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
	return &c
}

// checkScheme allows https, and http when the Fetcher allows it.
func (f *Fetcher) checkScheme(u *url.URL) error {
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && f.AllowHTTP:
		return nil
	case u.Scheme == "http":
		return ErrInsecure
	}
	return fmt.Errorf("scheme %q is not http(s)", u.Scheme)
}

func setHeaders(req *http.Request, have Validators, ua string) {
	if have.ETag != "" {
		req.Header.Set("If-None-Match", have.ETag)
	}
	if have.LastModified != "" {
		req.Header.Set("If-Modified-Since", have.LastModified)
	}
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
}

func (f *Fetcher) read(resp *http.Response, url string, have Validators) (Result, error) {
	got := Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	switch {
	case resp.StatusCode == http.StatusNotModified && have != (Validators{}):
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return Result{NotModified: true, Validators: keep(got, have)}, nil
	case resp.StatusCode != http.StatusOK:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // lets the connection be reused
		return Result{}, &StatusError{URL: url, Code: resp.StatusCode}
	}
	limit := or(f.MaxBytes, DefaultMaxBytes)
	if resp.ContentLength > limit {
		return Result{}, fmt.Errorf("fetch %s: %w: Content-Length %d, limit %d", url, ErrTooLarge, resp.ContentLength, limit)
	}
	body, err := readBody(resp, limit)
	switch {
	case err != nil:
		return Result{}, fmt.Errorf("fetch %s: read body: %w", url, err)
	case int64(len(body)) > limit:
		return Result{}, fmt.Errorf("fetch %s: %w: more than %d bytes", url, ErrTooLarge, limit)
	case len(body) == 0:
		return Result{}, fmt.Errorf("fetch %s: %w", url, ErrEmpty)
	}
	return Result{Body: body, Validators: got}, nil
}

// readBody reads at most limit+1 bytes. With a Content-Length the buffer
// is sized once: io.ReadAll's doubling costs several times a 20 MB table.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	r := io.LimitReader(resp.Body, limit+1)
	if resp.ContentLength <= 0 {
		return io.ReadAll(r)
	}
	var buf bytes.Buffer
	buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// keep fills validators a 304 did not repeat with the ones the caller sent.
func keep(got, have Validators) Validators {
	if got.ETag == "" {
		got.ETag = have.ETag
	}
	if got.LastModified == "" {
		got.LastModified = have.LastModified
	}
	return got
}

// retryable: network failures, timeouts of one attempt, 5xx, 429 and empty
// bodies may pass; 4xx, an oversized body or the caller giving up will not.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrInsecure) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
