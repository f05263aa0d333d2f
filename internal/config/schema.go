package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// index answers "where is this key" for the validator, from the scanner's
// entries, and remembers which keys already failed the schema check so that
// the validator does not report them a second time.
type index struct {
	pos map[string]pos  // by path; tables also under their unindexed name
	bad map[string]bool // unknown or of the wrong kind
	// meant holds paths a misspelt key was taken to mean: a missing
	// required key there is the same mistake, reported once.
	meant map[string]bool
}

func newIndex(entries []entry) *index {
	ix := &index{pos: map[string]pos{}, bad: map[string]bool{}, meant: map[string]bool{}}
	for _, e := range entries {
		for i := range e.segs {
			ix.first(renderPath(e.segs[:i+1]), e.pos)
			if e.segs[i].index >= 0 { // [[uplink]] as a whole: its first header
				ix.first(renderPath(append(e.segs[:i:i], seg{name: e.segs[i].name, index: -1})), e.pos)
			}
		}
		for j, el := range e.elems { // so that errors can point into a list
			ix.first(fmt.Sprintf("%s[%d]", renderPath(e.segs), j), el.pos)
		}
	}
	return ix
}

func (ix *index) first(path string, p pos) {
	if _, ok := ix.pos[path]; !ok {
		ix.pos[path] = p
	}
}

// has reports whether path is in the file with a value of the right kind.
func (ix *index) has(path string) bool {
	_, ok := ix.pos[path]
	return ok && !ix.bad[path]
}

// checker compares every entry against the raw structs' toml tags, before
// anything is decoded, so that each unknown key and wrong kind is reported
// at its own position.
type checker struct {
	ix   *index
	errs []*Error
	file string
}

var rawFileType = reflect.TypeFor[rawFile]()

func (c *checker) errorf(p pos, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) check(e entry) {
	t := rawFileType
	for i, sg := range e.segs {
		path := renderPath(e.segs[:i+1])
		if c.ix.bad[path] {
			return // reported once, where it first appeared
		}
		last := i == len(e.segs)-1
		got := e.kind
		if !last {
			got = kindTable
			if sg.index >= 0 {
				got = kindArrayTable
			}
		}
		f, ok := fieldByTagKind(t, sg.name, got)
		if !ok {
			c.ix.bad[path] = true
			c.unknown(e, i, t)
			return
		}
		if !c.kindOK(plainLast(e.segs[:i+1], f.Type), f.Type, got, e) {
			c.ix.bad[path] = true
			c.ix.bad[plainLast(e.segs[:i+1], f.Type)] = true
			return
		}
		if !last {
			t = f.Type
			if t.Kind() == reflect.Slice {
				t = t.Elem()
			}
		}
	}
}

// plainLast renders segs for a message; [[wireguard]] gets an index
// from the scanner, but the user knows it as wireguard.
func plainLast(segs []seg, ft reflect.Type) string {
	if kindOf(ft) == kindArrayTable {
		return renderPath(segs)
	}
	last := segs[len(segs)-1]
	return renderPath(append(segs[:len(segs)-1:len(segs)-1], seg{name: last.name, index: -1}))
}

// kindOK checks one key's value kind against its field's type.
func (c *checker) kindOK(path string, ft reflect.Type, got kind, e entry) bool {
	want := kindOf(ft)
	switch {
	case want == got:
	case want == kindTable && got == kindInlineTable:
	default:
		c.errorf(e.pos, "%s: expected %s, got %s (%s)", path, want, got, kindHint(want, path))
		return false
	}
	if want != kindArray {
		return true
	}
	ok := true
	wantElem := kindOf(ft.Elem())
	for j, el := range e.elems {
		if el.kind != wantElem {
			c.errorf(el.pos, "%s[%d]: expected %s, got %s (%s)", path, j, wantElem, el.kind, kindHint(wantElem, path))
			ok = false
		}
	}
	return ok
}

// kindOf maps a raw field type to the TOML kind it takes.
func kindOf(t reflect.Type) kind {
	switch t.Kind() {
	case reflect.String:
		return kindString
	case reflect.Int64:
		return kindInteger
	case reflect.Bool:
		return kindBool
	case reflect.Struct:
		return kindTable
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return kindArrayTable
		}
		return kindArray
	}
	panic("config: raw field of unsupported type " + t.String())
}

// kindHint says how to write a value of kind k.
func kindHint(k kind, path string) string {
	name := lastName(path)
	switch k {
	case kindString:
		return "put the value in double quotes"
	case kindInteger:
		return "write a whole number without quotes"
	case kindBool:
		return "write true or false without quotes"
	case kindArray:
		return fmt.Sprintf(`write a list, e.g. %s = ["a", "b"]`, name)
	case kindTable:
		return fmt.Sprintf("write it as a [%s] table", name)
	case kindArrayTable:
		return fmt.Sprintf("write each one as a [[%s]] table", name)
	}
	return "see the example configs"
}

func lastName(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	if i := strings.IndexByte(path, '['); i >= 0 {
		path = path[:i]
	}
	return path
}

// unknown reports e.segs[i], which t has no field for.
func (c *checker) unknown(e entry, i int, t reflect.Type) {
	name := e.segs[i].name
	names := tagNames(t)
	if best, ok := closest(name, names); ok {
		c.ix.meant[join(renderPath(e.segs[:i]), best)] = true
	}
	if e.header && i == len(e.segs)-1 {
		l, r := "[", "]"
		if e.kind == kindArrayTable {
			l, r = "[[", "]]"
		}
		full := strings.Join(plainNames(e.segs), ".")
		parent := strings.Join(plainNames(e.segs[:i]), ".")
		hint := suggest(name, names, func(s string) string {
			return l + strings.TrimPrefix(parent+"."+s, ".") + r
		})
		c.errorf(e.pos, "unknown table %s%s%s (%s)", l, full, r, hint)
		return
	}
	hint := suggest(name, names, func(s string) string { return fmt.Sprintf("%q", s) })
	c.errorf(e.pos, "unknown key %q %s (%s)", name, where(e.segs[:i]), hint)
}

// where names the table a key sits in, as the user wrote its header.
func where(parent []seg) string {
	if len(parent) == 0 {
		return "at top level"
	}
	name := strings.Join(plainNames(parent), ".")
	if parent[len(parent)-1].index >= 0 {
		return "in [[" + name + "]]"
	}
	return "in [" + name + "]"
}

func plainNames(segs []seg) []string {
	names := make([]string, len(segs))
	for i, s := range segs {
		names[i] = s.name
	}
	return names
}

// suggest offers the closest known name, or lists them all.
func suggest(name string, names []string, quote func(string) string) string {
	if best, ok := closest(name, names); ok {
		return "did you mean " + quote(best) + "?"
	}
	return "known keys here: " + strings.Join(names, ", ")
}

// closest finds a known name within two edits of name.
func closest(name string, names []string) (string, bool) {
	best, bestDist := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best, best != "" && bestDist < len(name)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); tagName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// fieldByTagKind is fieldByTag where one key names two fields of different
// kinds ([hub] on a hub, [[hub]] on an edge): the field of the kind written
// wins, or the first one, whose kind the checker then reports.
func fieldByTagKind(t reflect.Type, name string, got kind) (reflect.StructField, bool) {
	first, ok := fieldByTag(t, name)
	if !ok {
		return first, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tagName(f) == name && (kindOf(f.Type) == got || kindOf(f.Type) == kindTable && got == kindInlineTable) {
			return f, true
		}
	}
	return first, true
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}

func tagNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if n := tagName(t.Field(i)); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// fill copies a decoded TOML document into a raw struct, skipping values
// of the wrong kind: the checker has reported those, and one wrong kind
// must not hide the rest of the file's problems, as a failed
// toml.Decode into the struct would.
func fill(dst reflect.Value, m map[string]any) {
	t := dst.Type()
	for i := 0; i < t.NumField(); i++ {
		if v, ok := m[tagName(t.Field(i))]; ok {
			set(dst.Field(i), v)
		}
	}
}

func set(dst reflect.Value, v any) {
	switch dst.Kind() {
	case reflect.String:
		if s, ok := v.(string); ok {
			dst.SetString(s)
		}
	case reflect.Int64:
		if n, ok := v.(int64); ok {
			dst.SetInt(n)
		}
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			dst.SetBool(b)
		}
	case reflect.Struct:
		if m, ok := v.(map[string]any); ok {
			fill(dst, m)
		}
	case reflect.Slice:
		setSlice(dst, v)
	}
}

func setSlice(dst reflect.Value, v any) {
	if dst.Type().Elem().Kind() == reflect.Struct {
		tables, ok := v.([]map[string]any)
		if !ok {
			return
		}
		s := reflect.MakeSlice(dst.Type(), len(tables), len(tables))
		for i, m := range tables {
			fill(s.Index(i), m)
		}
		dst.Set(s)
		return
	}
	list, ok := v.([]any)
	if !ok {
		return
	}
	s := reflect.MakeSlice(dst.Type(), 0, len(list))
	for _, x := range list {
		if reflect.TypeOf(x) != dst.Type().Elem() {
			return
		}
		s = reflect.Append(s, reflect.ValueOf(x))
	}
	dst.Set(s)
}
