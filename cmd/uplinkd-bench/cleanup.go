package main

import (
	"os"
	"sync"
)

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

// tempDir makes a temporary directory that the returned function, or the
// bench's clean-up on a signal, removes (a 998 k ExaBGP config is 48 MB).
func tempDir(prefix string) (string, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	remove := func() { os.RemoveAll(dir) }
	addCleanup(remove)
	return dir, remove, nil
}
