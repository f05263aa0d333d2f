// Package api serves the daemon's read-only status on a local unix socket
// (HTTP with JSON bodies, versioned under /v1/) and is the client the CLI
// uses. Only root, or a configured group, may connect.
package api
