package api

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAccept: root takes a held update over the socket; a refusal comes
// back as the daemon's message; a member of the socket's group, who may
// read status, may not accept.
func TestAccept(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the socket is chowned to a group and a client runs as nobody")
	}
	g, err := user.LookupGroup("nogroup")
	if err != nil {
		t.Skipf("no group nogroup to test with: %v", err)
	}
	// A directory nobody can reach, with the socket and a copy of the
	// test binary in it (go test keeps its own in a root-only directory).
	dir, err := os.MkdirTemp("", "uplinkd-accept-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "api.test")
	if out, err := exec.Command("cp", os.Args[0], bin).CombinedOutput(); err != nil {
		t.Fatalf("copy the test binary: %v: %s", err, out)
	}
	path := filepath.Join(dir, "s.sock")
	s, err := Listen(path, "nogroup", func() Status { return Status{Site: "t"} }, func(netip.Addr) Explanation { return Explanation{} },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var asked []string
	s.HandleAccept(func(source string) (AcceptResult, error) {
		asked = append(asked, source)
		if source == "b" {
			return AcceptResult{}, errors.New("source b holds no update")
		}
		if source == "" {
			return AcceptResult{Accepted: []string{"a", "c"}}, nil
		}
		return AcceptResult{Accepted: []string{source}, InstallError: "install breakout table 6100: boom"}, nil
	})
	c := NewClient(path)
	got, err := c.Accept("a")
	if diff := cmp.Diff(AcceptResult{Accepted: []string{"a"}, InstallError: "install breakout table 6100: boom"}, got); diff != "" || err != nil {
		t.Errorf("accept a: %v (-want +got):\n%s", err, diff)
	}
	if _, err := c.Accept("b"); err == nil || err.Error() != "source b holds no update" {
		t.Errorf("accept b: %v, want the daemon's refusal", err)
	}
	if got, err := c.Accept(""); err != nil || !cmp.Equal(got.Accepted, []string{"a", "c"}) {
		t.Errorf("accept all: %+v, %v", got, err)
	}

	// A group member: status yes, accept no.
	gid, _ := strconv.Atoi(g.Gid)
	cmd := exec.Command(bin, "-test.run", "^TestAcceptAsNobody$", "-test.count=1")
	cmd.Env = append(os.Environ(), "UPLINKD_ACCEPT_SOCKET="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("client as nobody: %v\n%s", err, out)
	}
	if !cmp.Equal(asked, []string{"a", "b", ""}) {
		t.Errorf("the daemon was asked %q; nobody must not reach it", asked)
	}
}

// TestAcceptAsNobody is TestAccept's client without root.
func TestAcceptAsNobody(t *testing.T) {
	path := os.Getenv("UPLINKD_ACCEPT_SOCKET")
	if path == "" {
		t.Skip("run by TestAccept")
	}
	c := NewClient(path)
	if st, err := c.Status(); err != nil || st.Site != "t" {
		t.Fatalf("status as a group member: %+v, %v", st, err)
	}
	if _, err := c.Accept("a"); err == nil || !strings.Contains(err.Error(), "needs root") {
		t.Fatalf("accept as a group member: %v, want refused", err)
	}
}
