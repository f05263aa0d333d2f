package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Settings of the lab tests (environment), for where `go build` cannot
// run: make test-kernel's VM has no Go toolchain and no time to spare.
const (
	// binaryEnv names a prebuilt uplinkd binary (CGO_ENABLED=0 in the VM,
	// which has no libc), with the uplinkd-lab binary beside it; unset,
	// TestMain builds both.
	binaryEnv = "UPLINKD_LAB_BINARY"
	// onlyEnv "kernel" runs the kernel WireGuard labs only: TestMain does
	// not build the ult lab, and the tests that need it skip, saying so.
	onlyEnv = "UPLINKD_LAB_ONLY"
)

// labBinary is the uplinkd binary every test lab runs.
var labBinary string

// labBinaries returns the uplinkd binary the labs run: the prebuilt one
// binaryEnv names, or one built into dir with uplinkd-lab beside it.
func labBinaries(dir string) (string, error) {
	if bin := os.Getenv(binaryEnv); bin != "" {
		for _, p := range []string{bin, filepath.Join(filepath.Dir(bin), "uplinkd-lab")} {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%s=%s: %w", binaryEnv, bin, err)
			}
		}
		return bin, nil
	}
	for _, cmd := range []string{"uplinkd", "uplinkd-lab"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "github.com/uplinkd/uplinkd/cmd/"+cmd).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("build %s: %v\n%s", cmd, err, out)
		}
	}
	return filepath.Join(dir, "uplinkd"), nil
}
