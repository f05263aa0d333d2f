package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Client talks to a daemon's control socket.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	// One request per connection: the CLI asks once, and a daemon
	// polled by scripts should not collect idle connections.
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{path: path, http: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// Status fetches the daemon's status.
func (c *Client) Status() (Status, error) {
	var s Status
	resp, err := c.http.Get("http://uplinkd/" + Version + "/status")
	if err != nil {
		return s, fmt.Errorf("ask uplinkd at %s (is it running? are you root?): %w", c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("status from %s: %s", c.path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("decode status: %w", err)
	}
	return s, nil
}

// Explain asks the daemon how it routes a.
func (c *Client) Explain(a string) (Explanation, error) {
	var e Explanation
	resp, err := c.http.Get("http://uplinkd/" + Version + "/explain?ip=" + url.QueryEscape(a))
	if err != nil {
		return e, fmt.Errorf("ask uplinkd at %s (is it running? are you root?): %w", c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return e, fmt.Errorf("explain %s: %s", a, resp.Status)
	}
	return e, json.NewDecoder(resp.Body).Decode(&e)
}
