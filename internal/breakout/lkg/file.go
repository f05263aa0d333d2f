package lkg

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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
//	spec "3f1c…"
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
	fmt.Fprintf(w, "%s\nsource %s\nsuccess %s\netag %s\nmodified %s\nspec %s\ncount %d\n", magic,
		strconv.Quote(st.Source), st.LastSuccess.UTC().Format(time.RFC3339Nano),
		strconv.Quote(st.ETag), strconv.Quote(st.LastModified), strconv.Quote(st.Spec), len(st.Entries))
	var buf []byte
	var last breakout.Entry
	var attrs string // the encoded attributes of last
	for i, e := range st.Entries {
		if i == 0 || !e.SameAttrs(last) {
			last, attrs = e, encodeAttrs(e.Attrs())
		}
		buf = e.Prefix().AppendTo(buf[:0])
		buf = append(buf, '\t')
		buf = strconv.AppendUint(buf, uint64(e.ASN), 10)
		w.Write(buf)
		w.WriteString(attrs)
	}
	w.WriteString("end\n")
}

// encodeAttrs is the tail of an entry's line, from the tab after the ASN
// to the newline; a source's entries share a few, so it is made once each.
func encodeAttrs(a breakout.Attrs) string {
	var b strings.Builder
	for _, f := range []string{a.ASNName, a.Category, a.Name, a.Service, a.Region, a.NetworkBorderGroup} {
		b.WriteByte('\t')
		b.WriteString(field(f))
	}
	b.WriteByte('\n')
	return b.String()
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

// readFile loads a state file; one whose header counts more than
// maxEntries entries (0: no limit) is refused before the rest is read.
func readFile(path string, maxEntries int) (*State, error) {
	if maxEntries > 0 {
		if n, err := headerCount(path); err == nil && n > maxEntries {
			return nil, fmt.Errorf("holds %d entries, more than max_entries %d", n, maxEntries)
		}
	}
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

// headerCount reads the count line of a state file's header, which comes
// within its first few hundred bytes; decode checks the rest.
func headerCount(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for i := 0; i < 8 && sc.Scan(); i++ {
		if v, ok := strings.CutPrefix(sc.Text(), "count "); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("no count in the header")
}

// decoder walks the file line by line, keeping the line number for errors.
type decoder struct {
	rest []byte
	n    int
}

func (d *decoder) line() (string, bool) {
	l, ok := d.bytes()
	return string(l), ok
}

// bytes is line without the copy; the slice points into the file.
func (d *decoder) bytes() ([]byte, bool) {
	if len(d.rest) == 0 {
		return nil, false
	}
	d.n++
	i := bytes.IndexByte(d.rest, '\n')
	if i < 0 {
		// A last line without newline means the write was cut.
		return nil, false
	}
	l := d.rest[:i]
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
	st.Entries = make([]breakout.Entry, 0, min(count, len(d.rest)/10))
	ed := &entryDecoder{source: st.Source}
	for {
		l, ok := d.bytes()
		switch {
		case !ok:
			return nil, d.errf("truncated: %d of %d entries and no end line", len(st.Entries), count)
		case string(l) == "end":
			if len(st.Entries) != count || len(d.rest) != 0 {
				return nil, d.errf("%d entries, header says %d", len(st.Entries), count)
			}
			return st, nil
		}
		e, err := ed.decode(l)
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
	// spec came later: a file without it loads, with an empty Spec that
	// matches no source, so the source is fetched again at once.
	if v, ok := strings.CutPrefix(l, "spec "); ok {
		if st.Spec, err = strconv.Unquote(v); err != nil {
			return 0, d.errf("spec: %v", err)
		}
		l, _ = d.line()
	}
	v, ok := strings.CutPrefix(l, "count ")
	count, err := strconv.Atoi(v)
	if !ok || err != nil || count < 0 {
		return 0, d.errf("want count")
	}
	return count, nil
}

// entryDecoder turns lines into entries, interning the attributes: the
// lines of one source repeat a few attribute tails a million times.
type entryDecoder struct {
	source string
	tail   string         // the attribute tail of tmpl, after the ASN
	tmpl   breakout.Entry // carries the interned attributes
	ok     bool
}

func (d *entryDecoder) decode(l []byte) (breakout.Entry, error) {
	i := bytes.IndexByte(l, '\t')
	j := -1
	if i >= 0 {
		j = bytes.IndexByte(l[i+1:], '\t')
	}
	if j < 0 {
		return breakout.Entry{}, fmt.Errorf("want %d fields, got %d", nFields, bytes.Count(l, []byte{'\t'})+1)
	}
	j += i + 1
	p, err := netip.ParsePrefix(string(l[:i]))
	if err != nil || p != p.Masked() {
		return breakout.Entry{}, fmt.Errorf("bad prefix %q", l[:i])
	}
	asn, err := strconv.ParseUint(string(l[i+1:j]), 10, 32)
	if err != nil {
		return breakout.Entry{}, fmt.Errorf("bad asn %q", l[i+1:j])
	}
	if !d.ok || string(l[j:]) != d.tail {
		if err := d.attrs(l[j:]); err != nil {
			return breakout.Entry{}, err
		}
	}
	e := d.tmpl.WithPrefix(p)
	e.ASN = uint32(asn)
	return e, nil
}

// attrs parses an attribute tail ("\tASNName\tCategory\t…") into tmpl.
func (d *entryDecoder) attrs(tail []byte) error {
	f := strings.Split(string(tail[1:]), "\t")
	if len(f) != nFields-2 {
		return fmt.Errorf("want %d fields, got %d", nFields, len(f)+2)
	}
	a := breakout.Attrs{Source: d.source}
	for i, dst := range []*string{&a.ASNName, &a.Category, &a.Name, &a.Service, &a.Region, &a.NetworkBorderGroup} {
		var err error
		if *dst, err = unfield(f[i]); err != nil {
			return fmt.Errorf("field %d: %v", i+3, err)
		}
	}
	d.tmpl, d.tail, d.ok = breakout.NewEntry(netip.Prefix{}, 0, a), string(tail), true
	return nil
}
