package api

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func listenTest(path string) (*Server, error) {
	return Listen(path, "", func() Status { return Status{Site: "t"} },
		func(netip.Addr) Explanation { return Explanation{} }, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// TestSocketPathRefusesOtherFiles: whatever is at the socket path and is
// not a socket is left alone and Listen says why; before, it was deleted
// and replaced.
func TestSocketPathRefusesOtherFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string)
		kind string
	}{
		{"regular file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("precious\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "regular file"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "directory"},
		{"symlink to a file", func(t *testing.T, path string) {
			target := filepath.Join(filepath.Dir(path), "target")
			if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
		{"named pipe", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "named pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.sock")
			tc.make(t, path)
			before, _ := os.Lstat(path)
			s, err := listenTest(path)
			if err == nil {
				s.Close()
				t.Fatalf("Listen over a %s succeeded", tc.kind)
			}
			if !errors.Is(err, ErrNotSocket) || !strings.Contains(err.Error(), "a "+tc.kind+" is there") {
				t.Errorf("Listen over a %s: %v, want ErrNotSocket naming it", tc.kind, err)
			}
			after, err := os.Lstat(path)
			if err != nil || !os.SameFile(before, after) {
				t.Errorf("the %s was replaced or removed: %v", tc.kind, err)
			}
		})
	}
}

// TestSocketPathReplacesStaleSocket: a socket left by a killed run (no one
// answers) is still replaced; a live one is refused.
func TestSocketPathReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false) // as after a SIGKILL: the file stays
	ln.Close()
	s, err := listenTest(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer s.Close()
	if st, err := NewClient(path).Status(); err != nil || st.Site != "t" {
		t.Errorf("status over the new socket: %+v, %v", st, err)
	}
	if s2, err := listenTest(path); err == nil || !strings.Contains(err.Error(), "another uplinkd is running") {
		if s2 != nil {
			s2.Close()
		}
		t.Errorf("Listen beside a live daemon: %v, want refused", err)
	}
}
