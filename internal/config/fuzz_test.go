package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
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
	f.Add([]byte("a = \"\"\"\n[[x]]\"\"\"\nb = { c = [1, {d = 2}], e.f = 'g' }\n[[x.y]]\n[x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
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
