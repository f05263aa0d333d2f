package lkg

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// The state file is text: a header of "key value" lines, the entries as
// tab-separated lines, then "end". The count in the header and the trailer
// catch a file cut short; text keeps it greppable when debugging.
//
//	uplinkd-breakout-state 1
//	source "aws"
//	success 2026-11-30T04:10:00Z
//	etag "\"abc\""
//	modified ""
//	count 2
//	3.0.0.0/15	16509	AMAZON-02	internet	AMAZON	EC2	ap-southeast-1	ap-southeast-1
//	...
//	end
const (
	magic     = "uplinkd-breakout-state 1"
	fileExt   = ".state"
	tmpPrefix = ".tmp-"
	nFields   = 8
)

// fileName maps a source name to a file name that is safe on any file
// system and cannot escape the directory: bytes outside [A-Za-z0-9_-] are
// %XX-escaped.
func fileName(source string) string {
	var b strings.Builder
	for i := 0; i < len(source); i++ {
		c := source[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String() + fileExt
}

// writeFile replaces the source's file atomically: a temporary file in the
// same directory, fsync'd, renamed over the old one.
func writeFile(dir string, st *State) (err error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	encode(w, st)
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, fileName(st.Source))); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the rename itself durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func encode(w *bufio.Writer, st *State) {
	fmt.Fprintf(w, "%s\nsource %s\nsuccess %s\netag %s\nmodified %s\ncount %d\n", magic,
		strconv.Quote(st.Source), st.LastSuccess.UTC().Format(time.RFC3339Nano),
		strconv.Quote(st.ETag), strconv.Quote(st.LastModified), len(st.Entries))
	for _, e := range st.Entries {
		w.WriteString(e.Prefix.String())
		for _, f := range []string{strconv.FormatUint(uint64(e.ASN), 10), e.ASNName, e.Category, e.Name, e.Service, e.Region, e.NetworkBorderGroup} {
			w.WriteByte('\t')
			w.WriteString(field(f))
		}
		w.WriteByte('\n')
	}
	w.WriteString("end\n")
}

// field quotes a value only when it would break the line format.
func field(s string) string {
	if strings.ContainsAny(s, "\t\n\r\\") || strings.HasPrefix(s, `"`) {
		return strconv.Quote(s)
	}
	return s
}

func unfield(s string) (string, error) {
	if strings.HasPrefix(s, `"`) {
		return strconv.Unquote(s)
	}
	return s, nil
}

func readFile(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	st, err := decode(data)
	if err != nil {
		return nil, err
	}
	if fileName(st.Source) != filepath.Base(path) {
		return nil, fmt.Errorf("file holds source %q, not the one its name says", st.Source)
	}
	return st, nil
}

// decoder walks the file line by line, keeping the line number for errors.
type decoder struct {
	rest []byte
	n    int
}

func (d *decoder) line() (string, bool) {
	if len(d.rest) == 0 {
		return "", false
	}
	d.n++
	i := bytes.IndexByte(d.rest, '\n')
	if i < 0 {
		// A last line without newline means the write was cut.
		return "", false
	}
	l := string(d.rest[:i])
	d.rest = d.rest[i+1:]
	return l, true
}

func (d *decoder) errf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", d.n, fmt.Sprintf(format, args...))
}

func decode(data []byte) (*State, error) {
	d := &decoder{rest: data}
	if l, ok := d.line(); !ok || l != magic {
		return nil, d.errf("not a state file (want %q)", magic)
	}
	st := &State{}
	count, err := d.header(st)
	if err != nil {
		return nil, err
	}
	st.Entries = make([]breakout.Entry, 0, count)
	for {
		l, ok := d.line()
		switch {
		case !ok:
			return nil, d.errf("truncated: %d of %d entries and no end line", len(st.Entries), count)
		case l == "end":
			if len(st.Entries) != count || len(d.rest) != 0 {
				return nil, d.errf("%d entries, header says %d", len(st.Entries), count)
			}
			return st, nil
		}
		e, err := decodeEntry(l, st.Source)
		if err != nil {
			return nil, d.errf("%v", err)
		}
		st.Entries = append(st.Entries, e)
	}
}

// header reads the fixed sequence of header lines into st and returns count.
func (d *decoder) header(st *State) (int, error) {
	var success string
	for _, h := range []struct {
		key string
		dst *string
	}{{"source", &st.Source}, {"success", &success}, {"etag", &st.ETag}, {"modified", &st.LastModified}} {
		l, _ := d.line()
		v, ok := strings.CutPrefix(l, h.key+" ")
		if !ok {
			return 0, d.errf("want %s", h.key)
		}
		if h.key == "success" {
			*h.dst = v
			continue
		}
		s, err := strconv.Unquote(v)
		if err != nil {
			return 0, d.errf("%s: %v", h.key, err)
		}
		*h.dst = s
	}
	t, err := time.Parse(time.RFC3339Nano, success)
	if err != nil || st.Source == "" {
		return 0, d.errf("bad success time or empty source")
	}
	st.LastSuccess = t
	l, _ := d.line()
	v, ok := strings.CutPrefix(l, "count ")
	count, err := strconv.Atoi(v)
	if !ok || err != nil || count < 0 {
		return 0, d.errf("want count")
	}
	return count, nil
}

func decodeEntry(l, source string) (breakout.Entry, error) {
	f := strings.Split(l, "\t")
	if len(f) != nFields {
		return breakout.Entry{}, fmt.Errorf("want %d fields, got %d", nFields, len(f))
	}
	p, err := netip.ParsePrefix(f[0])
	if err != nil || p != p.Masked() {
		return breakout.Entry{}, fmt.Errorf("bad prefix %q", f[0])
	}
	asn, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return breakout.Entry{}, fmt.Errorf("bad asn %q", f[1])
	}
	e := breakout.Entry{Prefix: p, Source: source, ASN: uint32(asn)}
	for i, dst := range []*string{&e.ASNName, &e.Category, &e.Name, &e.Service, &e.Region, &e.NetworkBorderGroup} {
		if *dst, err = unfield(f[i+2]); err != nil {
			return breakout.Entry{}, fmt.Errorf("field %d: %v", i+3, err)
		}
	}
	return e, nil
}
