package routefile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// WriteFile writes entries to path atomically (a temporary file in the same
// directory, renamed over path), so the scheduled job that commits the
// files never sees half a file. It returns whether the content changed,
// so callers can skip a commit; an unchanged file is not rewritten.
func WriteFile(path string, entries []breakout.Entry) (changed bool, err error) {
	var buf bytes.Buffer
	if err := Write(&buf, entries); err != nil {
		return false, err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, buf.Bytes()) {
		return false, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".routefile-*")
	if err != nil {
		return false, fmt.Errorf("write route file %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after a successful rename this finds nothing
	if _, err = f.Write(buf.Bytes()); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return false, fmt.Errorf("write route file %s: %w", path, err)
	}
	return true, nil
}
