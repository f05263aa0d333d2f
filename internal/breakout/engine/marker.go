package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// markerFile records the table and rule priority the engine last used, so
// a start with a different Plan.Table or RulePriority finds and sweeps the
// old ones. It sits beside the state files (.state) the lkg store reads.
const markerFile = "kernel.json"

func readMarker(dir string) (layout, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, markerFile))
	if errors.Is(err, os.ErrNotExist) {
		return layout{}, false, nil
	}
	if err != nil {
		return layout{}, false, fmt.Errorf("read %s: %w", markerFile, err)
	}
	var l layout
	if err := json.Unmarshal(b, &l); err != nil {
		return layout{}, false, fmt.Errorf("read %s: %w", markerFile, err)
	}
	return l, true, nil
}

// writeMarker replaces the marker atomically: a torn marker would hide
// the table to sweep.
func writeMarker(dir string, l layout) error {
	b, _ := json.Marshal(l)
	tmp := filepath.Join(dir, markerFile+".new")
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("write %s: %w", markerFile, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, markerFile)); err != nil {
		return fmt.Errorf("write %s: %w", markerFile, err)
	}
	return nil
}

func removeMarker(dir string) error {
	err := os.Remove(filepath.Join(dir, markerFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", markerFile, err)
	}
	return nil
}
