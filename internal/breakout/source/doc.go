// Package source refreshes one configured breakout source end to end:
// fetch (or read) its feed, parse it, and record the outcome in the
// last-known-good store, so that any failure on the way leaves the previous
// set in place and marks the source stale.
package source
