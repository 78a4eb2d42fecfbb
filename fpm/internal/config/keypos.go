package config

// The key positions BurntSushi/toml keeps to itself: a small scanner over
// an accepted document that finds where every key and table header starts,
// for the FILE:LINE:COL of each error.

import (
	"bytes"
	"strconv"
	"strings"
)

// keyPos is where a key (or table header) starts: 1-based line and byte
// column.
type keyPos struct{ line, col int }

// findKeys returns the position of every key and table header in a TOML
// document that BurntSushi/toml has already accepted (it keeps positions to
// itself). It follows [table] and [[array]] headers, dotted and quoted keys,
// inline tables and arrays (elements are "[N]" path components, as are the
// tables of an [[array]]). On text it cannot follow it stays safe and
// returns what it found.
func findKeys(src []byte) map[string]keyPos {
	s := &scanner{src: stripBOM(src), line: 1, col: 1, out: map[string]keyPos{}, explicit: map[string]bool{}, aot: map[string]int{}}
	s.document()
	return s.out
}

// stripBOM drops a byte-order mark as BurntSushi/toml does, so that our
// lines and columns match its own.
func stripBOM(src []byte) []byte {
	switch {
	case bytes.HasPrefix(src, []byte("\xef\xbb\xbf")):
		return src[3:]
	case bytes.HasPrefix(src, []byte("\xff\xfe")), bytes.HasPrefix(src, []byte("\xfe\xff")):
		return src[2:]
	}
	return src
}

type scanner struct {
	src       []byte
	i         int
	line, col int
	out       map[string]keyPos
	explicit  map[string]bool // keys recorded by their own header or key = value
	aot       map[string]int  // [[array]] path → tables so far
}

func (s *scanner) eof() bool { return s.i >= len(s.src) }

func (s *scanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

func (s *scanner) adv() {
	if s.eof() {
		return
	}
	if s.src[s.i] == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
	s.i++
}

func (s *scanner) has(prefix string) bool {
	return bytes.HasPrefix(s.src[s.i:], []byte(prefix))
}

func (s *scanner) here() keyPos { return keyPos{s.line, s.col} }

// record notes where path is; an explicit definition wins over an implicit
// one (a parent table named by a longer header or dotted key).
func (s *scanner) record(path keyPath, p keyPos, explicit bool) {
	id := path.id()
	if _, ok := s.out[id]; !ok || (explicit && !s.explicit[id]) {
		s.out[id] = p
		s.explicit[id] = explicit
	}
}

// recordKey notes path and, implicitly, its parents from base on.
func (s *scanner) recordKey(path keyPath, base int, p keyPos) {
	for n := base + 1; n < len(path); n++ {
		s.record(path[:n], p, false)
	}
	s.record(path, p, true)
}

func (s *scanner) skipSpace() {
	for !s.eof() && (s.src[s.i] == ' ' || s.src[s.i] == '\t') {
		s.adv()
	}
}

// skipBlank skips spaces, newlines and comments.
func (s *scanner) skipBlank() {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t', '\r', '\n':
			s.adv()
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine moves to the next newline (not past it).
func (s *scanner) skipLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.adv()
	}
}

func (s *scanner) document() {
	var table keyPath
	for {
		s.skipBlank()
		if s.eof() {
			return
		}
		start, before := s.here(), s.i
		if s.peek(0) == '[' {
			table = s.header(start)
		} else {
			s.keyValue(table)
		}
		s.skipSpace()
		s.skipLine()
		if s.i == before {
			s.adv()
		}
	}
}

// header reads a [table] or [[array]] header and returns the table's path.
func (s *scanner) header(start keyPos) keyPath {
	s.adv()
	array := s.peek(0) == '['
	if array {
		s.adv()
	}
	keys := s.key()
	if len(keys) == 0 {
		return nil
	}
	// Components naming an [[array]] refer to its latest table.
	var path keyPath
	for i, k := range keys {
		path = path.add(k)
		if n := s.aot[path.id()]; n > 0 && (i < len(keys)-1 || !array) {
			path = path.add("[" + strconv.Itoa(n-1) + "]")
		}
		if i < len(keys)-1 {
			s.record(path, start, false)
		}
	}
	if array {
		n := s.aot[path.id()]
		s.aot[path.id()] = n + 1
		s.record(path, start, true)
		path = path.add("[" + strconv.Itoa(n) + "]")
	}
	s.record(path, start, true)
	return path
}

// keyValue reads key = value under table.
func (s *scanner) keyValue(table keyPath) {
	start := s.here()
	keys := s.key()
	if len(keys) == 0 {
		return
	}
	path := table.add(keys...)
	s.recordKey(path, len(table), start)
	s.skipSpace()
	if s.peek(0) == '=' {
		s.adv()
	}
	s.skipSpace()
	s.value(path)
}

// key reads a possibly dotted, possibly quoted key.
func (s *scanner) key() []string {
	var keys []string
	for {
		s.skipSpace()
		var k string
		switch c := s.peek(0); {
		case s.eof():
			return keys
		case c == '"':
			k = s.basicString()
		case c == '\'':
			k = s.literalString()
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-':
			st := s.i
			for !s.eof() {
				c := s.src[s.i]
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
					break
				}
				s.adv()
			}
			k = string(s.src[st:s.i])
		default:
			return keys
		}
		keys = append(keys, k)
		s.skipSpace()
		if s.peek(0) != '.' {
			return keys
		}
		s.adv()
	}
}

// basicString reads "..." and returns its value with escapes decoded.
func (s *scanner) basicString() string {
	s.adv()
	var b strings.Builder
	for !s.eof() {
		c := s.src[s.i]
		switch {
		case c == '"':
			s.adv()
			return b.String()
		case c == '\n':
			return b.String()
		case c == '\\':
			s.adv()
			e := s.peek(0)
			s.adv()
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case 'e':
				b.WriteByte(0x1b)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				st := s.i
				for range n {
					s.adv()
				}
				if r, err := strconv.ParseUint(string(s.src[st:s.i]), 16, 32); err == nil {
					b.WriteRune(rune(r))
				}
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			s.adv()
		}
	}
	return b.String()
}

// literalString reads '...'.
func (s *scanner) literalString() string {
	s.adv()
	st := s.i
	for !s.eof() && s.src[s.i] != '\'' && s.src[s.i] != '\n' {
		s.adv()
	}
	v := string(s.src[st:s.i])
	if s.peek(0) == '\'' {
		s.adv()
	}
	return v
}

// multiline skips a multi-line string; q is its three quote characters.
func (s *scanner) multiline(q string) {
	for range 3 {
		s.adv()
	}
	for !s.eof() {
		if q == `"""` && s.src[s.i] == '\\' {
			s.adv()
			s.adv()
			continue
		}
		if s.has(q) {
			for range 3 {
				s.adv()
			}
			// Up to two more quotes belong to the string ("""a"""").
			for n := 0; n < 2 && s.peek(0) == q[0]; n++ {
				s.adv()
			}
			return
		}
		s.adv()
	}
}

// value skips one value, recording the keys of inline tables inside it.
func (s *scanner) value(path keyPath) {
	switch c := s.peek(0); {
	case s.has(`"""`):
		s.multiline(`"""`)
	case s.has(`'''`):
		s.multiline(`'''`)
	case c == '"':
		s.basicString()
	case c == '\'':
		s.literalString()
	case c == '[':
		s.adv()
		for n := 0; ; {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.peek(0) {
			case ']':
				s.adv()
				return
			case ',':
				s.adv()
				continue
			}
			before := s.i
			el := path.add("[" + strconv.Itoa(n) + "]")
			s.record(el, s.here(), true)
			s.value(el)
			n++
			if s.i == before {
				s.adv()
			}
		}
	case c == '{':
		s.adv()
		for {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.peek(0) {
			case '}':
				s.adv()
				return
			case ',':
				s.adv()
				continue
			}
			before := s.i
			s.keyValue(path)
			if s.i == before {
				s.adv()
			}
		}
	default:
		for !s.eof() && !strings.ContainsRune(",]}\n#", rune(s.src[s.i])) {
			s.adv()
		}
	}
}
