package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// keyReader is how the loader reaches private key files: the one thing
// Parse reads from outside the config text. Tests swap it for a fake.
type keyReader interface {
	Stat(name string) (fs.FileInfo, error)
	ReadFile(name string) ([]byte, error)
	// Owner is the uid owning a file Stat returned; false where the
	// platform has no uids.
	Owner(fs.FileInfo) (uid int, ok bool)
	// Euid is the user the check runs as (the daemon: root).
	Euid() int
}

// osKeys reads key files from the real filesystem.
type osKeys struct{}

func (osKeys) Stat(name string) (fs.FileInfo, error)   { return os.Stat(name) }
func (osKeys) ReadFile(name string) ([]byte, error)    { return os.ReadFile(name) }
func (osKeys) Owner(fi fs.FileInfo) (uid int, ok bool) { return fileOwner(fi) }
func (osKeys) Euid() int                               { return os.Geteuid() }

// maxKeyFile bounds what is read: a key file is 45 bytes; anything much
// larger is the wrong file.
const maxKeyFile = 4096

// privateKey reads and checks the key file named in [wireguard]. Messages
// name the file and never its contents.
func (v *validator) privateKey(name string, w *WireGuard) {
	const path = "wireguard.private_key_file"
	if name == "" {
		v.errorf(path, `must not be empty (e.g. "/etc/uplinkd/private.key")`)
		return
	}
	if !filepath.IsAbs(name) && v.file != "" { // relative to the config file, not to where the daemon was started
		name = filepath.Join(filepath.Dir(v.file), name)
	}
	w.PrivateKeyFile = name
	fi, err := v.keys.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.errorf(path, "%s does not exist (create it: uplinkd genkey > %s && chmod 600 %s)", name, name, name)
		return
	case err != nil:
		v.errorf(path, "cannot read %s: %v (check the path and that uplinkd runs as root)", name, unwrapPathError(err))
		return
	case !fi.Mode().IsRegular():
		v.errorf(path, "%s is not a regular file (point it at the file written by uplinkd genkey)", name)
		return
	case fi.Mode().Perm()&0o077 != 0:
		v.errorf(path, "%s is open to group or others (mode %04o); a private key must be private: chmod 600 %s", name, fi.Mode().Perm(), name)
		return
	case !v.ownedBySelf(fi):
		uid, _ := v.keys.Owner(fi)
		v.errorf(path, "%s belongs to uid %d, not to root or the user uplinkd runs as (uid %d): whoever owns it can change the key or its mode: chown root:root %s", name, uid, v.keys.Euid(), name)
		return
	case fi.Size() > maxKeyFile:
		v.errorf(path, "%s is %d bytes, too large for a key file (it should hold one base64 key from uplinkd genkey)", name, fi.Size())
		return
	}
	data, err := v.keys.ReadFile(name)
	if err != nil {
		v.errorf(path, "cannot read %s: %v (check the path and that uplinkd runs as root)", name, unwrapPathError(err))
		return
	}
	key, err := wgtypes.ParseKey(strings.TrimSpace(string(data)))
	if err != nil { // the parse error could quote the file: do not pass it on
		v.errorf(path, "%s does not hold a WireGuard private key (it must contain one base64 key of 32 bytes; make one with uplinkd genkey > %s)", name, name)
		return
	}
	w.PrivateKey = key
}

// ownedBySelf reports whether a key file belongs to root or to the user
// the check runs as; where files have no owner it cannot say otherwise.
func (v *validator) ownedBySelf(fi fs.FileInfo) bool {
	uid, ok := v.keys.Owner(fi)
	return !ok || uid == 0 || uid == v.keys.Euid()
}

// unwrapPathError drops the path from an *fs.PathError, which the message
// already names.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
