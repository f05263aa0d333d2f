package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// AcceptResult answers POST /v1/breakout/accept: the sources whose held
// update was taken, and whether installing the outcome failed.
type AcceptResult struct {
	Accepted     []string `json:"accepted"`
	InstallError string   `json:"install_error,omitempty"`
}

// AcceptFunc takes the update a breakout source holds ("": every held
// update). An error means nothing was taken (no such source, nothing
// held); an install that failed afterwards is AcceptResult.InstallError.
type AcceptFunc func(source string) (AcceptResult, error)

// HandleAccept serves `uplinkd breakout accept` on the socket. Unlike
// status it changes what the daemon routes, so only root may ask, even
// when a group may read the socket.
func (s *Server) HandleAccept(accept AcceptFunc) {
	s.mux.HandleFunc("POST /"+Version+"/breakout/accept", func(w http.ResponseWriter, r *http.Request) {
		if uid, ok := peerUID(r.Context()); !ok || uid != 0 {
			http.Error(w, "accepting a held breakout update needs root", http.StatusForbidden)
			return
		}
		q := r.URL.Query()
		source := q.Get("source")
		if source == "" && q.Get("all") != "1" {
			http.Error(w, "name a source, or all=1", http.StatusBadRequest)
			return
		}
		res, err := accept(source)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		writeJSON(w, res)
	})
}

// Accept asks the daemon to take the update source holds; "" takes every
// held update.
func (c *Client) Accept(source string) (AcceptResult, error) {
	var res AcceptResult
	u := "http://uplinkd/" + Version + "/breakout/accept?all=1"
	if source != "" {
		u = "http://uplinkd/" + Version + "/breakout/accept?source=" + url.QueryEscape(source)
	}
	resp, err := c.http.Post(u, "", nil)
	if err != nil {
		return res, fmt.Errorf("ask uplinkd at %s (is it running? are you root?): %w", c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return res, fmt.Errorf("%s", strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return res, fmt.Errorf("decode answer: %w", err)
	}
	return res, nil
}

// peerKey carries the connecting process's uid in a request's context.
type peerKey struct{}

// withPeer notes who is on the other end of a connection, for the
// handlers that need root.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	if uid, ok := connUID(c); ok {
		return context.WithValue(ctx, peerKey{}, uid)
	}
	return ctx
}

func peerUID(ctx context.Context) (uint32, bool) {
	uid, ok := ctx.Value(peerKey{}).(uint32)
	return uid, ok
}
