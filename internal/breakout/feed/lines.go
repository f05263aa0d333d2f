package feed

import (
	"bytes"
	"strings"
)

// eachLine calls fn with every line of body (1-based number, content without
// the line ending and surrounding blanks), skipping blank lines and lines
// starting with one of the comment bytes. The last line need not end in a
// newline: Cloudflare's lists do not. It stops at the first error.
func eachLine(body []byte, comments string, fn func(n int, line []byte) error) error {
	n := 0
	for len(body) > 0 {
		n++
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || strings.IndexByte(comments, line[0]) >= 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	return nil
}
