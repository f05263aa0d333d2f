//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "uplinkd-soak needs Linux: it builds a lab of network namespaces")
	os.Exit(2)
}
