// Package fetch downloads breakout feeds over HTTPS with the protections a
// feed needs: https only unless a source opts in to plain http (redirects
// included), a timeout per attempt, a size cap that is an error rather than
// a silent cut, conditional GET (ETag / If-Modified-Since) and retries with
// backoff.
package fetch
