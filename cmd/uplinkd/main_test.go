package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uplinkd/uplinkd/internal/api"
)

func call(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// genkey and pubkey must be interchangeable with wg(8)'s.
func TestKeysMatchWg(t *testing.T) {
	if _, err := exec.LookPath("wg"); err != nil {
		t.Skip("wg(8) from wireguard-tools is not installed")
	}
	priv, _, code := call(t, "", "genkey")
	if code != 0 || len(strings.TrimSpace(priv)) != 44 || !strings.HasSuffix(priv, "=\n") {
		t.Fatalf("genkey printed %q (exit %d)", priv, code)
	}
	ours, _, code := call(t, priv, "pubkey")
	if code != 0 {
		t.Fatalf("pubkey exit %d", code)
	}
	cmd := exec.Command("wg", "pubkey")
	cmd.Stdin = strings.NewReader(priv)
	theirs, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if ours != string(theirs) {
		t.Errorf("uplinkd pubkey = %q, wg pubkey = %q", ours, theirs)
	}

	// And the other way round: a key from wg genkey.
	wgPriv, err := exec.Command("wg", "genkey").Output()
	if err != nil {
		t.Fatal(err)
	}
	ours, _, _ = call(t, string(wgPriv), "pubkey")
	cmd = exec.Command("wg", "pubkey")
	cmd.Stdin = bytes.NewReader(wgPriv)
	theirs, _ = cmd.Output()
	if ours != string(theirs) {
		t.Errorf("for a wg genkey key: uplinkd pubkey = %q, wg pubkey = %q", ours, theirs)
	}
}

func TestPubkeyRefusesGarbage(t *testing.T) {
	_, stderr, code := call(t, "not a key\n", "pubkey")
	if code == 0 || !strings.Contains(stderr, "private key") {
		t.Errorf("pubkey of garbage: exit %d, stderr %q", code, stderr)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, stderr, code := call(t, "", "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestCheckReportsFileLineColumn(t *testing.T) {
	path := t.TempDir() + "/bad.toml"
	body := "role = \"edge\"\nsite = \"home\"\nasn = 64512\nrouter_id = \"198.18.10.1\"\nwieght = 3\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := call(t, "", "check", "-c", path)
	if code != 1 {
		t.Fatalf("check of a bad file exited %d", code)
	}
	if !strings.Contains(out, path+":5:1: ") || !strings.Contains(out, `"wieght"`) {
		t.Errorf("check did not point at the typo at line 5 column 1:\n%s", out)
	}
	if !strings.Contains(stderr, "nothing was changed") {
		t.Errorf("stderr %q", stderr)
	}
}

// TestCheckRefusesPlainHTTPFeed: a feed URL over plain http is refused by
// check, at its line and column, unless its source says allow_http.
func TestCheckRefusesPlainHTTPFeed(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "private.key")
	if err := os.WriteFile(key, []byte("aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd28=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../configs/edge.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(example), `private_key_file = "/etc/uplinkd/private.key"`, `private_key_file = "`+key+`"`, 1)
	text = strings.Replace(text, `url = "https://ip-ranges.amazonaws.com/ip-ranges.json"`, `url = "http://ip-ranges.amazonaws.com/ip-ranges.json"`, 1)
	path := filepath.Join(dir, "edge.toml")
	os.WriteFile(path, []byte(text), 0o600)
	line := strings.Count(text[:strings.Index(text, `url = "http://`)], "\n") + 1
	out, _, code := call(t, "", "check", "-c", path)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("%s:%d:1: breakout.source[0].url: \"http://ip-ranges.amazonaws.com/ip-ranges.json\" is plain http", path, line)) {
		t.Errorf("check exited %d:\n%s", code, out)
	}
	text = strings.Replace(text, `url = "http://ip-ranges.amazonaws.com/ip-ranges.json"`, "url = \"http://ip-ranges.amazonaws.com/ip-ranges.json\"\nallow_http = true", 1)
	os.WriteFile(path, []byte(text), 0o600)
	if out, _, code := call(t, "", "check", "-c", path); code != 0 {
		t.Errorf("with allow_http, check exited %d:\n%s", code, out)
	}
}

// TestBreakoutAccept: the command asks the daemon over its socket and
// says what was taken; without a source it says how to name one.
func TestBreakoutAccept(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root may accept over the socket")
	}
	sock := filepath.Join(t.TempDir(), "s.sock")
	srv, err := api.Listen(sock, "", func() api.Status { return api.Status{} }, func(netip.Addr) api.Explanation { return api.Explanation{} },
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.HandleAccept(func(source string) (api.AcceptResult, error) {
		if source != "aws" {
			return api.AcceptResult{}, fmt.Errorf("source %s holds no update", source)
		}
		return api.AcceptResult{Accepted: []string{"aws"}}, nil
	})
	out, stderr, code := call(t, "", "breakout", "accept", "--socket", sock, "aws")
	if code != 0 || out != "aws: held update taken; later updates are guarded again\n" {
		t.Errorf("accept aws: exit %d, %q %q", code, out, stderr)
	}
	if _, stderr, code := call(t, "", "breakout", "accept", "--socket", sock, "github"); code != 1 || !strings.Contains(stderr, "source github holds no update") {
		t.Errorf("accept github: exit %d, %q", code, stderr)
	}
	if _, stderr, code := call(t, "", "breakout", "accept", "--socket", sock); code != 1 || !strings.Contains(stderr, "accept needs one SOURCE") {
		t.Errorf("accept without a source: exit %d, %q", code, stderr)
	}
}
