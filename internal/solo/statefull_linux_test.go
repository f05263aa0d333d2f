package solo

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stateFullSets are the two versions of the feed: N even /24s, and the
// same shifted by a quarter (within the churn limit).
func stateFullSets() (v1, v2 []netip.Prefix) {
	const n = 4000
	for i := range n {
		v1 = append(v1, slash24(i))
		v2 = append(v2, slash24(i+n/4))
	}
	return v1, v2
}

// etagFeed serves each version at /vN with an ETag and answers a
// conditional GET for the version the client holds with 304, as the
// providers' feeds do.
func etagFeed(s *solo, versions map[string][]netip.Prefix) {
	bodies := map[string][]byte{}
	for v, ps := range versions {
		bodies["/"+v] = listBody(ps)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		etag := fmt.Sprintf("%q", strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(body)
	})}
	ln := s.listen()
	go srv.Serve(ln)
	s.t.Cleanup(func() { srv.Close() })
}

// privateTmpfs makes the daemon run in a mount namespace of its own with a
// small tmpfs on its state directory: the machine's mounts are never
// touched, and the tmpfs goes with the daemon. Its files are reached from
// outside through /proc/PID/root.
func privateTmpfs(s *solo, size string) {
	if _, err := exec.LookPath("unshare"); err != nil {
		s.t.Skip("needs util-linux's unshare for a mount namespace of the daemon's own")
	}
	if err := os.MkdirAll(s.stateDir(), 0o750); err != nil {
		s.t.Fatal(err)
	}
	s.wrap = []string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
		fmt.Sprintf(`mount -t tmpfs -o size=%s,mode=0750 uplinkd-state "$0" && exec "$@"`, size), s.stateDir()}
}

// inDaemonFS is path as the daemon's mount namespace sees it.
func (s *solo) inDaemonFS(path string) string {
	return filepath.Join(fmt.Sprintf("/proc/%d/root", s.pid()), path)
}

// fill writes a file into the daemon's tmpfs until the file system is
// full, and returns its path.
func fill(t *testing.T, s *solo) string {
	t.Helper()
	path := s.inDaemonFS(filepath.Join(s.stateDir(), "filler"))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for written := 0; ; written += len(chunk) {
		if _, err = f.Write(chunk); err != nil {
			break
		}
		if written > 64<<20 {
			t.Fatalf("wrote 64 MB into the state directory: it is not the small tmpfs")
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the state directory: %v, want ENOSPC", err)
	}
	if _, err := os.Stat(filepath.Join(s.stateDir(), "filler")); err == nil {
		t.Fatalf("the filler shows in this process's view: the tmpfs is not private to the daemon")
	}
	return path
}

// sourceError is the named source's error in status ("" when none).
func sourceError(t *testing.T, s *solo, name string) string {
	t.Helper()
	if b := s.status().Breakout; b != nil {
		for _, src := range b.Sources {
			if src.Name == name {
				return src.LastError
			}
		}
	}
	t.Fatalf("status lists no breakout source %s", name)
	return ""
}

// waitTable waits until uplinkd's routes in the breakout table are want.
func waitTable(t *testing.T, s *solo, want []netip.Prefix, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := s.uplinkdRoutes()
		if len(got) == len(want) && countNotIn(got, want) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("table %d: %d routes, %d of them not desired, want the %d of the set; log:\n%s",
				boTable, len(got), countNotIn(got, want), len(want), s.logTail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The state directory full (a small tmpfs, private to the daemon): a
// feed update is still installed, status and the log say the set could not
// be saved; once space is freed, the next try saves it (the feed answering
// 304 to it, as an unchanged feed does) and status clears.
func TestStateDirFullRoutingGoesOn(t *testing.T) {
	s := newSolo(t)
	v1, v2 := stateFullSets()
	etagFeed(s, map[string][]netip.Prefix{"v1": v1, "v2": v2})
	privateTmpfs(s, "256k")
	s.writeConfig("", urlSource("feed", "v1"))
	s.start()
	waitTable(t, s, v1, 20*time.Second)
	stateFile := s.inDaemonFS(filepath.Join(s.stateDir(), "breakout", "feed.state"))
	if e := sourceError(t, s, "feed"); e != "" {
		t.Fatalf("before the directory filled up, source feed says %q", e)
	}
	filler := fill(t, s)

	logStart := len(s.log())
	s.writeConfig("", urlSource("feed", "v2"))
	s.reload()
	waitTable(t, s, v2, 20*time.Second)
	const enospc = "no space left on device"
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(sourceError(t, s, "feed"), enospc) {
		if time.Now().After(deadline) {
			t.Fatalf("state directory full: status of source feed says %q, want %q", sourceError(t, s, "feed"), enospc)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := s.statusText(); !strings.Contains(st, "not saved") || !strings.Contains(st, enospc) {
		t.Errorf("uplinkd status does not show the failed save:\n%s", st)
	}
	if logged := s.log()[logStart:]; !strings.Contains(logged, "not saved") || !strings.Contains(logged, enospc) {
		t.Errorf("the log does not tell of the failed save:\n%s", logged)
	}
	if got := stateCount(t, stateFile); got != len(v1) {
		t.Errorf("with the directory full the state file holds %d prefixes, want v1's %d kept", got, len(v1))
	}
	t.Logf("state directory full: v2's %d routes installed, status says %q", len(v2), sourceError(t, s, "feed"))

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed, logStart := time.Now(), len(s.log())
	for sourceError(t, s, "feed") != "" {
		if time.Since(freed) > 30*time.Second {
			t.Fatalf("space freed 30 s ago, source feed still says %q; log:\n%s", sourceError(t, s, "feed"), s.logTail(15))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := stateCount(t, stateFile); got != len(v2) || !strings.Contains(readFile(t, stateFile), v2[len(v2)-1].String()+"\t") {
		t.Errorf("after space was freed the state file holds %d prefixes, want v2's %d", got, len(v2))
	}
	if logged := s.log()[logStart:]; !strings.Contains(logged, "saved after an earlier failure") {
		t.Errorf("the log does not tell that the set was saved once space was freed:\n%s", logged)
	}
	waitTable(t, s, v2, time.Second)
	t.Logf("space freed: set saved and status clear after %s", time.Since(freed).Round(time.Millisecond))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stateCount is the prefix count a state file's header gives.
func stateCount(t *testing.T, path string) int {
	t.Helper()
	for _, l := range strings.Split(readFile(t, path), "\n") {
		if v, ok := strings.CutPrefix(l, "count "); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatalf("%s: no count line", path)
	return 0
}
