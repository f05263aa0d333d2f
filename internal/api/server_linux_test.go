package api

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestSocketModes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the socket is chowned to a group")
	}
	g, err := user.LookupGroup("nogroup")
	if err != nil {
		t.Skipf("no group nogroup to test with: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	status := func() Status { return Status{Site: "t"} }
	explain := func(netip.Addr) Explanation { return Explanation{} }
	for _, tt := range []struct {
		group string
		mode  os.FileMode
		gid   string
	}{{"", 0o600, "0"}, {"nogroup", 0o660, g.Gid}} {
		path := filepath.Join(t.TempDir(), "s.sock")
		s, err := Listen(path, tt.group, status, explain, log)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		gid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid))
		if fi.Mode().Perm() != tt.mode || gid != tt.gid {
			t.Errorf("group %q: socket mode %v gid %s, want %v gid %s", tt.group, fi.Mode().Perm(), gid, tt.mode, tt.gid)
		}
		if st, err := NewClient(path).Status(); err != nil || st.Site != "t" || st.SchemaVersion != SchemaVersion {
			t.Errorf("status over the socket: %+v, %v", st, err)
		}
		s.Close()
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("socket left after Close: %v", err)
		}
	}
}
