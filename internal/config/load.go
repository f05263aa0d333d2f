package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads and parses the configuration file at path. A file that cannot
// be read gives the os error (errors.Is(err, fs.ErrNotExist) works); a file
// with problems gives an ErrorList.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a configuration whose text is data; path is
// used in messages and to resolve a relative private_key_file. The only
// file it reads is the private key. Errors are an ErrorList holding every
// problem found, sorted by position.
func Parse(path string, data []byte) (*Config, error) {
	return parse(path, data, osKeys{})
}

func parse(path string, data []byte, keys keyReader) (*Config, error) {
	src := string(data)
	var doc map[string]any
	if _, err := toml.Decode(src, &doc); err != nil {
		return nil, syntaxError(path, src, err)
	}
	entries := scan(src)
	ix := newIndex(entries)
	c := &checker{ix: ix, file: path}
	for _, e := range entries {
		c.check(e)
	}
	var raw rawFile
	fill(reflect.ValueOf(&raw).Elem(), doc)

	v := &validator{file: path, ix: ix, keys: keys, errs: c.errs, claims: map[string]claim{}}
	cfg := &Config{File: path}
	for _, validate := range validators {
		validate(v, &raw, cfg)
	}
	if err := v.errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// syntaxError turns the TOML parser's error into a one-entry ErrorList:
// after a syntax error nothing else in the file can be trusted. The
// position comes from the error's byte offset: the parser's own column is
// counted from the wrong line when the error is at a newline.
func syntaxError(path, src string, err error) error {
	e := &Error{File: path, Line: 1, Col: 1, Msg: "toml: " + err.Error()}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		e.Msg = "toml syntax: " + pe.Message + " (see https://toml.io)"
		e.Line = max(pe.Position.Line, 1)
		if off := pe.Position.Start; off >= 0 && off <= len(src) {
			p := offsetPos(src, off)
			e.Line, e.Col = p.line, p.col
		}
	}
	return ErrorList{e}
}

// offsetPos converts a byte offset into a line and column.
func offsetPos(src string, off int) pos {
	start := strings.LastIndexByte(src[:off], '\n') + 1
	return pos{line: strings.Count(src[:off], "\n") + 1, col: off - start + 1}
}
