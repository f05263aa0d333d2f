package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Status holds the numeric fields of /proc/PID/status by name ("VmRSS",
// "Threads"), as the kernel prints them: memory in KiB.
type Status map[string]int64

// Read reads the status of process pid; pid 0 is this process.
func Read(pid int) (Status, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(b), nil
}

// parse keeps every "Key:\tN" or "Key:\tN kB" line; others (state, masks,
// lists) are skipped.
func parse(b []byte) Status {
	st := Status{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		f := bytes.Fields(v)
		if !ok || len(f) == 0 || len(f) > 2 || (len(f) == 2 && string(f[1]) != "kB") {
			continue
		}
		if n, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
			st[string(k)] = n
		}
	}
	return st
}

// Bytes returns a memory field (printed in kB) in bytes, and whether the
// kernel printed it.
func (s Status) Bytes(key string) (int64, bool) {
	n, ok := s[key]
	return n << 10, ok
}
