// Package units converts durations to and from the numbers the status API
// writes with the unit in the key (docs/status-api.md: "took_ms" and the
// like), one definition for every package that marshals its status.
package units
