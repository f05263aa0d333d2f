// Package fetch downloads breakout feeds over HTTP with the protections a
// feed needs: a timeout per attempt, a size cap that is an error rather than
// a silent cut, conditional GET (ETag / If-Modified-Since) and retries with
// backoff.
package fetch
