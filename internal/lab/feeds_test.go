package lab

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestFeedsAnswerNotModified: the lab's feed server gives each feed an
// ETag and answers a refetch with it by 304 and no body, as the daemon's
// fetcher asks (If-None-Match).
func TestFeedsAnswerNotModified(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ServeFeeds(ctx, addr)
	url := "http://" + addr + "/aws-ip-ranges.json"
	var resp *http.Response
	for deadline := time.Now().Add(2 * time.Second); ; {
		if resp, err = http.Get(url); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || tag == "" || len(body) < 1000 {
		t.Fatalf("first fetch: %s, ETag %q, %d bytes", resp.Status, tag, len(body))
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("If-None-Match", tag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("refetch with its ETag: %s and %d bytes, want 304 and none", resp.Status, len(body))
	}
}
