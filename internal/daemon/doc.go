// Package daemon is `uplinkd run`: it loads a site's config, drives the
// reconcilers on kernel events and a timer, reloads on SIGHUP (refusing a
// bad file and keeping the old config), serves status, and removes what it
// made on SIGTERM.
package daemon
