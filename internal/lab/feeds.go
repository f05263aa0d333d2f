package lab

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"
)

// FeedPort is where ul-web serves the lab's breakout feeds.
const FeedPort = 8081

//go:embed feeds/*.json feeds/*.txt
var feedFiles embed.FS

// ServeFeeds serves the embedded feeds over HTTP until ctx ends, with an
// ETag per file as a provider's server has: a refetch with If-None-Match
// gets 304 Not Modified and no body. (Embedded files have no modification
// time, so without it every refetch carried the whole feed, 2 MB of AWS
// ranges through a tunnel every minute, which the liveness measurements
// then counted.)
func ServeFeeds(ctx context.Context, addr string) error {
	sub, err := fs.Sub(feedFiles, "feeds")
	if err != nil {
		return err
	}
	tags, err := etags(sub)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	files := http.FileServerFS(sub)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tag, ok := tags[strings.TrimPrefix(r.URL.Path, "/")]; ok {
			w.Header().Set("ETag", tag) // http.ServeContent answers If-None-Match with it
		}
		files.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// etags is a strong ETag per file: a hash of its content.
func etags(fsys fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	return out, err
}
