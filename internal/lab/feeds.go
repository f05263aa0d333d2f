package lab

import (
	"context"
	"embed"
	"io/fs"
	"net"
	"net/http"
	"time"
)

// FeedPort is where ul-web serves the lab's breakout feeds.
const FeedPort = 8081

//go:embed feeds/*.json feeds/*.txt
var feedFiles embed.FS

// ServeFeeds serves the embedded feeds over HTTP until ctx ends, with
// ETag and If-Modified-Since as a provider's server would.
func ServeFeeds(ctx context.Context, addr string) error {
	sub, err := fs.Sub(feedFiles, "feeds")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServerFS(sub), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
