package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
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
