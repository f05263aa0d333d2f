package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzParse holds Parse to its contract on any input: no panic, and every
// error an ErrorList whose entries point into the file.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"edge.toml", "hub.toml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "configs", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(goodEdge))
	f.Add([]byte(goodHub))
	f.Add([]byte("x = '''\n[[uplink]]'''\n[[ uplink ]]\nt = 1979-05-27 07:32:00Z\ninl = { a.b = 1,\n c = [ # c\n2] }\n"))
	f.Add([]byte("a = \"\"\"\n[[x]]\"\"\"\nb = { c = [1, {d = 2}], e.f = 'g' }\n[[x.y]]\n[x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		scanAgrees(t, string(data))
		c, err := parse("f.toml", data, testKeys)
		if err == nil {
			if c == nil {
				t.Fatal("no config and no error")
			}
			_ = c.Summary()
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is %T, not a non-empty ErrorList: %v", err, err)
		}
		for _, e := range list {
			if len(data) > 0 && (e.Line < 1 || e.Col < 1) {
				t.Errorf("error without a position: %v", e)
			}
			if e.Msg == "" {
				t.Errorf("error without a message at %d:%d", e.Line, e.Col)
			}
		}
	})
}

// scanAgrees checks the position scanner against the TOML library: every
// key the library saw, the scanner must have seen too, or its errors
// would land on the wrong line.
func scanAgrees(t *testing.T, src string) {
	var doc map[string]any
	md, err := toml.Decode(src, &doc)
	if err != nil {
		return
	}
	seen, arrays := map[string]bool{}, map[string]bool{}
	for _, e := range scan(src) {
		for i := range e.segs {
			seen[strings.Join(plainNames(e.segs[:i+1]), "\x00")] = true
		}
		if e.kind == kindArray {
			arrays[strings.Join(plainNames(e.segs), "\x00")] = true
		}
	}
keys:
	for _, k := range md.Keys() {
		for i := 1; i < len(k); i++ {
			if arrays[strings.Join(k[:i], "\x00")] {
				continue keys // tables inside an array value are not recorded
			}
		}
		if !seen[strings.Join(k, "\x00")] {
			t.Fatalf("scanner missed key %q", k.String())
		}
	}
}
