package main

import (
	"fmt"
	"io"
	"runtime"
)

// version is set at build time (make build, dist, deb: -X main.version=…).
var version = "dev"

func cmdVersion(_ []string, _ io.Reader, stdout, _ io.Writer) error {
	_, err := fmt.Fprintf(stdout, "uplinkd %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
