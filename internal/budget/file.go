package budget

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FileName is the state file under the meter's directory.
const FileName = "usage.json"

const fileVersion = 1

// stateFile is what is persisted: every budgeted uplink's account.
type stateFile struct {
	Version  int        `json:"version"`
	Saved    time.Time  `json:"saved"`
	Accounts []*account `json:"uplinks"`
}

// load reads the state file; a missing one is an empty start.
func load(dir string) ([]*account, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read budget state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read budget state %s: %w", filepath.Join(dir, FileName), err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("read budget state %s: version %d, want %d", filepath.Join(dir, FileName), f.Version, fileVersion)
	}
	return f.Accounts, nil
}

// save replaces the state file atomically: a temporary file in the same
// directory, synced, renamed over the old one, and the directory synced,
// so that a crash or power loss leaves the old file or the new one.
func save(dir string, f stateFile) (err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("save budget state: %w", err)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("save budget state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+FileName+"-*")
	if err != nil {
		return fmt.Errorf("save budget state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("save budget state: %w", err)
		}
	}()
	if _, err = tmp.Write(append(b, '\n')); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, FileName)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
