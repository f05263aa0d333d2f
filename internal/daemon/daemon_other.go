//go:build !linux

package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
)

// Run needs Linux: tunnels, policy routing and the FIB are Linux's.
func Run(context.Context, string, <-chan os.Signal, *slog.Logger, *slog.LevelVar) error {
	return errors.New("uplinkd run needs Linux")
}
