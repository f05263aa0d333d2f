//go:build !linux

package sdnotify

// monotonicUsec has no systemd to match outside Linux.
func monotonicUsec() (int64, bool) { return 0, false }
