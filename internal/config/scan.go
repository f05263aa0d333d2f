package config

import (
	"sort"
	"strconv"
	"strings"
)

// The TOML library knows where every key is, but it does not export that,
// and for arrays of tables it keeps one position per key name rather than
// per entry. This file is a small scanner over the source that records, for
// every key, its indexed path (uplink[1].weight), where it is, and what kind
// of value it holds. It runs only on text the TOML parser has accepted, so it
// may be lenient; it must only never panic or loop.

// kind is the kind of a TOML value, as far as the schema cares.
type kind int

const (
	kindNone kind = iota
	kindString
	kindInteger
	kindFloat
	kindBool
	kindDatetime
	kindArray
	kindInlineTable
	kindTable      // [table] header
	kindArrayTable // [[table]] header
)

var kindNames = [...]string{
	kindNone:        "nothing",
	kindString:      "a string",
	kindInteger:     "an integer",
	kindFloat:       "a float",
	kindBool:        "a boolean",
	kindDatetime:    "a date-time",
	kindArray:       "an array",
	kindInlineTable: "an inline table",
	kindTable:       "a table",
	kindArrayTable:  "an array of tables",
}

func (k kind) String() string { return kindNames[k] }

// pos is a 1-based line and byte column.
type pos struct{ line, col int }

// seg is one step of a key path; index is the entry number inside an array
// of tables, or -1.
type seg struct {
	name  string
	index int
}

// elem is one element of an array value.
type elem struct {
	kind kind
	pos  pos
}

// entry is one key, table header or inline-table member of the file.
type entry struct {
	segs   []seg
	pos    pos
	kind   kind
	elems  []elem // for arrays
	header bool   // [table] or [[table]]
}

// renderPath writes segs as uplink[1].weight.
func renderPath(segs []seg) string {
	var b strings.Builder
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.name)
		if s.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

type scanner struct {
	src        string
	off        int
	lineStarts []int
	table      []seg          // the current [table]
	aot        map[string]int // entries seen per array of tables
	entries    []entry
}

// scan returns every key and table header of src in source order.
func scan(src string) []entry {
	s := &scanner{src: src, aot: map[string]int{}, lineStarts: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	if strings.HasPrefix(src, "\ufeff") {
		s.off = len("\ufeff")
	}
	s.run()
	return s.entries
}

func (s *scanner) run() {
	for {
		s.skipSpaceNL()
		if s.eof() {
			return
		}
		start := s.off
		if s.peek() == '[' {
			s.header()
		} else {
			s.keyValue(s.table, true)
		}
		if s.off == start { // only on text the parser would refuse
			s.off++
		}
	}
}

func (s *scanner) eof() bool { return s.off >= len(s.src) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.off]
}

func (s *scanner) posAt(off int) pos {
	line := sort.SearchInts(s.lineStarts, off+1) // first start beyond off
	return pos{line: line, col: off - s.lineStarts[line-1] + 1}
}

func (s *scanner) skipWS() {
	for !s.eof() && (s.peek() == ' ' || s.peek() == '\t') {
		s.off++
	}
}

// skipSpaceNL skips blanks, newlines and comments.
func (s *scanner) skipSpaceNL() {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.off++
		case '#':
			for !s.eof() && s.peek() != '\n' {
				s.off++
			}
		default:
			return
		}
	}
}

func (s *scanner) header() {
	start := s.off
	s.off++
	array := s.peek() == '['
	if array {
		s.off++
	}
	keys := s.keys()
	s.skipWS()
	for i := 0; i < 2 && s.peek() == ']'; i++ {
		s.off++
	}
	segs := s.resolve(nil, keys, array)
	s.table = segs
	k := kindTable
	if array {
		k = kindArrayTable
	}
	s.entries = append(s.entries, entry{segs: segs, pos: s.posAt(start), kind: k, header: true})
}

// resolve turns keys relative to base into an indexed path. A key that
// names an array of tables refers to its latest entry; newElem starts a
// new entry for the last key, as a [[header]] does.
func (s *scanner) resolve(base []seg, keys []string, newElem bool) []seg {
	segs := append([]seg(nil), base...)
	for i, k := range keys {
		sg := seg{name: k, index: -1}
		id := renderPath(append(segs, sg))
		if newElem && i == len(keys)-1 {
			s.aot[id]++
		}
		if n, ok := s.aot[id]; ok {
			sg.index = n - 1
		}
		segs = append(segs, sg)
	}
	return segs
}

func (s *scanner) keyValue(base []seg, record bool) {
	start := s.off
	keys := s.keys()
	s.skipWS()
	if len(keys) == 0 || s.peek() != '=' {
		return
	}
	s.off++
	s.skipWS()
	segs := s.resolve(base, keys, false)
	slot := len(s.entries)
	if record { // the key goes before the members of its inline table
		s.entries = append(s.entries, entry{})
	}
	k, elems := s.value(segs, record)
	if record {
		s.entries[slot] = entry{segs: segs, pos: s.posAt(start), kind: k, elems: elems}
	}
}

// keys reads a dotted key such as a."b".c.
func (s *scanner) keys() []string {
	var keys []string
	for {
		s.skipWS()
		k, ok := s.key()
		if !ok {
			return keys
		}
		keys = append(keys, k)
		s.skipWS()
		if s.peek() != '.' {
			return keys
		}
		s.off++
	}
}

func (s *scanner) key() (string, bool) {
	start := s.off
	switch s.peek() {
	case '"':
		s.basicString()
		raw := s.src[start:s.off]
		if k, err := strconv.Unquote(raw); err == nil {
			return k, true
		}
		return strings.Trim(raw, `"`), true
	case '\'':
		s.literalString()
		return strings.Trim(s.src[start:s.off], "'"), true
	}
	for !s.eof() && isBareKeyChar(s.peek()) {
		s.off++
	}
	return s.src[start:s.off], s.off > start
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// value skips one value and says what kind it was. Members of an inline
// table are recorded under segs when record is set.
func (s *scanner) value(segs []seg, record bool) (kind, []elem) {
	switch s.peek() {
	case '"':
		s.basicString()
		return kindString, nil
	case '\'':
		s.literalString()
		return kindString, nil
	case '[':
		return kindArray, s.array()
	case '{':
		s.inlineTable(segs, record)
		return kindInlineTable, nil
	}
	return classify(s.bareToken()), nil
}

func (s *scanner) basicString() {
	if strings.HasPrefix(s.src[s.off:], `"""`) {
		s.off += 3
		for !s.eof() {
			switch {
			case s.peek() == '\\':
				s.off += 2
			case strings.HasPrefix(s.src[s.off:], `"""`):
				s.off += 3
				for i := 0; i < 2 && s.peek() == '"'; i++ { // """a""""" ends in quotes
					s.off++
				}
				return
			default:
				s.off++
			}
		}
		s.off = min(s.off, len(s.src))
		return
	}
	s.off++
	for !s.eof() && s.peek() != '\n' {
		c := s.peek()
		s.off++
		if c == '\\' {
			s.off++
		} else if c == '"' {
			break
		}
	}
	s.off = min(s.off, len(s.src))
}

func (s *scanner) literalString() {
	if strings.HasPrefix(s.src[s.off:], "'''") {
		s.off += 3
		end := strings.Index(s.src[s.off:], "'''")
		if end < 0 {
			s.off = len(s.src)
			return
		}
		s.off += end + 3
		for i := 0; i < 2 && s.peek() == '\''; i++ {
			s.off++
		}
		return
	}
	s.off++
	for !s.eof() && s.peek() != '\n' {
		c := s.peek()
		s.off++
		if c == '\'' {
			return
		}
	}
}

func (s *scanner) array() []elem {
	var elems []elem
	s.off++
	for {
		s.skipSpaceNL()
		if s.eof() {
			return elems
		}
		switch s.peek() {
		case ']':
			s.off++
			return elems
		case ',':
			s.off++
			continue
		}
		start := s.off
		k, _ := s.value(nil, false)
		elems = append(elems, elem{kind: k, pos: s.posAt(start)})
		if s.off == start {
			s.off++
		}
	}
}

func (s *scanner) inlineTable(segs []seg, record bool) {
	s.off++
	for {
		s.skipSpaceNL() // TOML 1.1 allows newlines and comments here
		if s.eof() {
			return
		}
		switch s.peek() {
		case '}':
			s.off++
			return
		case ',':
			s.off++
			continue
		}
		start := s.off
		s.keyValue(segs, record)
		if s.off == start {
			s.off++
		}
	}
}

// bareToken reads a number, boolean or date-time.
func (s *scanner) bareToken() string {
	start := s.off
	for !s.eof() && !strings.ContainsRune(" \t\r\n,]}#", rune(s.peek())) {
		s.off++
	}
	tok := s.src[start:s.off]
	// A date-time may have a space between date and time.
	if isDate(tok) && strings.HasPrefix(s.src[s.off:], " ") && len(s.src) > s.off+3 &&
		isDigit(s.src[s.off+1]) && isDigit(s.src[s.off+2]) && s.src[s.off+3] == ':' {
		s.off++
		s.bareToken()
	}
	return tok
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDate(tok string) bool {
	return len(tok) >= 10 && tok[4] == '-' && tok[7] == '-' && isDigit(tok[0])
}

func classify(tok string) kind {
	switch {
	case tok == "true" || tok == "false":
		return kindBool
	case strings.TrimLeft(tok, "+-") == "inf" || strings.TrimLeft(tok, "+-") == "nan":
		return kindFloat
	case isDate(tok) || strings.Contains(tok, ":"):
		return kindDatetime
	case len(tok) > 1 && tok[0] == '0' && strings.ContainsAny(tok[1:2], "xob"):
		return kindInteger
	case strings.ContainsAny(tok, ".eE"):
		return kindFloat
	case tok == "":
		return kindNone
	}
	return kindInteger
}
