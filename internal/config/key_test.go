package config

import (
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestKeyFileOwner: a private key owned by another user is refused even at
// mode 0600: that user could rewrite it or open it up again.
func TestKeyFileOwner(t *testing.T) {
	src := edit(t, goodEdge, `"/etc/uplinkd/private.key"`, `"/k/theirs"`)
	_, err := parse("t.toml", []byte(src), testKeys)
	want := []string{"7:1: wireguard.private_key_file: /k/theirs belongs to uid 1000, not to root or the user uplinkd runs as (uid 0): whoever owns it can change the key or its mode: chown root:root /k/theirs"}
	if diff := cmp.Diff(want, positions(t, err)); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}

// TestKeyFileOwnerOnDisk checks the real filesystem's owner, as root.
func TestKeyFileOwnerOnDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the key file to another user")
	}
	for _, tt := range []struct {
		uid  int
		fail bool
	}{{0, false}, {65534, true}} {
		t.Run(fmt.Sprint(tt.uid), func(t *testing.T) {
			path := writeKey(t, testKey+"\n", 0o600)
			if err := os.Chown(path, tt.uid, 0); err != nil {
				t.Fatal(err)
			}
			_, err := Parse("t.toml", []byte(edit(t, goodEdge, `"/etc/uplinkd/private.key"`, fmt.Sprintf("%q", path))))
			if (err != nil) != tt.fail {
				t.Errorf("key owned by uid %d: err %v, want refused %v", tt.uid, err, tt.fail)
			}
		})
	}
}
