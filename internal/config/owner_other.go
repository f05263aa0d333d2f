//go:build !unix

package config

import "io/fs"

// fileOwner: no uids here.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
