// Package metrics exposes the daemon's status snapshot to Prometheus. It
// keeps no state of its own: every scrape takes one api.Status and turns it
// into const metrics, so what a scrape shows is what `uplinkd status` shows.
package metrics
