package config

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// testKey is a valid base64 key for key files; tests never print it.
const testKey = "0F2m0JaDYfHbm9CvyM9lUeP2Ql0g2kVdcxhR0E6aRmc="

// fakeKeys serves private key files from memory: path -> mode and data.
type fakeKeys map[string]fakeFile

type fakeFile struct {
	mode fs.FileMode
	data string
	uid  int // owner; 0 (root) unless set
}

func (f fakeKeys) Stat(name string) (fs.FileInfo, error) {
	ff, ok := f[name]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return fakeInfo{name: name, f: ff}, nil
}

func (f fakeKeys) Owner(fi fs.FileInfo) (int, bool) { return fi.(fakeInfo).f.uid, true }

// Euid: the tests check as root, like the daemon.
func (f fakeKeys) Euid() int { return 0 }

func (f fakeKeys) ReadFile(name string) ([]byte, error) {
	ff, ok := f[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(ff.data), nil
}

type fakeInfo struct {
	name string
	f    fakeFile
}

func (i fakeInfo) Name() string       { return i.name }
func (i fakeInfo) Size() int64        { return int64(len(i.f.data)) }
func (i fakeInfo) Mode() fs.FileMode  { return i.f.mode }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return i.f.mode.IsDir() }
func (i fakeInfo) Sys() any           { return nil }

// testKeys has a good key at the path the test files name, and the bad
// kinds of key file the tests need.
var testKeys = fakeKeys{
	"/etc/uplinkd/private.key": {mode: 0o600, data: testKey + "\n"},
	"/k/open":                  {mode: 0o644, data: testKey + "\n"},
	"/k/group":                 {mode: 0o640, data: testKey + "\n"},
	"/k/garbage":               {mode: 0o600, data: "not a key at all\n"},
	"/k/dir":                   {mode: fs.ModeDir | 0o700},
	"/k/theirs":                {mode: 0o600, data: testKey + "\n", uid: 1000},
}

// positions renders an error as "LINE:COL: message" lines, the part a test
// asserts; the file name is checked once, elsewhere.
func positions(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, not an ErrorList: %v", err, err)
	}
	var out []string
	for _, e := range list {
		out = append(out, strings.TrimPrefix(e.Error(), e.File+":"))
	}
	return out
}

// edit replaces the one occurrence of old in src; a test whose edit
// matches nothing would silently test the good file.
func edit(t *testing.T, src string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if n := strings.Count(src, pairs[i]); n != 1 {
			t.Fatalf("edit: %q occurs %d times", pairs[i], n)
		}
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	return src
}
