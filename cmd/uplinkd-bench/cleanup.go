package main

import "sync"

// cleanups undo what the bench made, newest first; cleanupAll runs them
// once, from the deferred exit path or the signal handler, whichever is
// first.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func addCleanup(fn func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, fn)
}

func cleanupAll() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}
