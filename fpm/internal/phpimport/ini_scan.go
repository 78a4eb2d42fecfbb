package phpimport

// The ini reader, after Zend/zend_ini_scanner.l: one line of php-fpm
// configuration to statements ([section], name = value, name[offset] = value).

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

const (
	iniEntry = iota
	iniSection
	iniArray
)

// iniStmt is one statement of a line: [section], name = value or
// name[offset] = value.
type iniStmt struct {
	kind   int
	name   string
	offset string
	val    iniValue
	vars   []iniVar // every ${NAME} of the statement
}

// iniValue is a parsed value.
type iniValue struct {
	s       string   // what php-fpm sees, before $pool
	raw     string   // the source text without comment and outer blanks
	vars    []iniVar // the ${NAME} references of the value
	onlyVar string   // NAME when the value is exactly ${NAME}
}

type iniVar struct{ name, val string }

type iniScanner struct {
	b    []byte
	i    int
	env  func(string) (string, bool)
	vars []iniVar
}

// parseIniLine parses one line of a php-fpm configuration file. Like
// php-fpm it stops at a NUL byte and ends the line with "\n". A "\r" ends a
// statement too, so a line may hold several.
func parseIniLine(line []byte, env func(string) (string, bool)) ([]iniStmt, error) {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	} else {
		line = append(line[:len(line):len(line)], '\n')
	}
	s := &iniScanner{b: line, env: env}
	if len(line) > 3 && bytes.HasPrefix(line, []byte("\xef\xbb\xbf")) {
		s.i = 3
	}
	var out []iniStmt
	for {
		s.blanks()
		if s.eof() {
			return out, nil
		}
		s.vars = nil
		switch c := s.b[s.i]; {
		case c == '\n' || c == '\r':
			s.i++
		case c == ';':
			for !s.eof() && s.b[s.i] != '\n' && s.b[s.i] != '\r' {
				s.i++
			}
		case c == '[':
			s.i++
			name, err := s.compound(false)
			if err != nil {
				return nil, err
			}
			s.i++ // ']'
			out = append(out, iniStmt{kind: iniSection, name: name, vars: s.vars})
		case iniIsLabelChar(c):
			st, err := s.entry()
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		default:
			return nil, fmt.Errorf("syntax error: unexpected %s", s.what())
		}
	}
}

func (s *iniScanner) eof() bool { return s.i >= len(s.b) }

// peek returns the byte k ahead, or 0 at the end (NUL never occurs).
func (s *iniScanner) peek(k int) byte {
	if s.i+k < len(s.b) {
		return s.b[s.i+k]
	}
	return 0
}

func (s *iniScanner) blanks() {
	for !s.eof() && (s.b[s.i] == ' ' || s.b[s.i] == '\t') {
		s.i++
	}
}

// blanksThen reports whether blanks and then c come next.
func (s *iniScanner) blanksThen(c byte) bool {
	j := s.i
	for j < len(s.b) && (s.b[j] == ' ' || s.b[j] == '\t') {
		j++
	}
	return j < len(s.b) && s.b[j] == c
}

// what names the byte at the cursor for an error message.
func (s *iniScanner) what() string {
	switch c := s.peek(0); {
	case s.eof() || c == '\n' || c == '\r':
		return "end of line"
	case c < 0x20 || c >= 0x7f:
		return fmt.Sprintf("byte 0x%02x", c)
	default:
		return fmt.Sprintf("'%c'", c)
	}
}

// iniIsLabelChar: LABEL_CHAR [^=\n\r\t;&|^$~(){}!"[\]\x00].
func iniIsLabelChar(c byte) bool {
	return c != 0 && strings.IndexByte("=\n\r\t;&|^$~(){}!\"[]", c) < 0
}

func iniIsAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// iniIsConstant: CONSTANT [a-zA-Z_][a-zA-Z0-9_]*.
func iniIsConstant(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !iniIsAlnum(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

// iniConstants are the PHP constants a php-fpm configuration uses in
// practice (error_reporting masks); any other name stays as written, as
// PHP does for an undefined constant.
var iniConstants = map[string]string{
	"E_ERROR": "1", "E_WARNING": "2", "E_PARSE": "4", "E_NOTICE": "8",
	"E_CORE_ERROR": "16", "E_CORE_WARNING": "32", "E_COMPILE_ERROR": "64", "E_COMPILE_WARNING": "128",
	"E_USER_ERROR": "256", "E_USER_WARNING": "512", "E_USER_NOTICE": "1024", "E_STRICT": "2048",
	"E_RECOVERABLE_ERROR": "4096", "E_DEPRECATED": "8192", "E_USER_DEPRECATED": "16384", "E_ALL": "32767",
}

func iniConstant(name string) string {
	if v, ok := iniConstants[name]; ok {
		return v
	}
	return name
}

// iniKeyword returns "1" for yes/on/true, "" for no/off/false/none/null
// (any case), and "-" for any other word.
func iniKeyword(w string) string {
	switch strings.ToLower(w) {
	case "true", "on", "yes":
		return "1"
	case "false", "off", "no", "none", "null":
		return ""
	}
	return "-"
}

// entry reads name = value or name[offset] = value.
func (s *iniScanner) entry() (iniStmt, error) {
	j := s.i
	for j < len(s.b) && iniIsLabelChar(s.b[j]) {
		j++
	}
	name := strings.TrimRight(string(s.b[s.i:j]), " ")
	s.i = j
	st := iniStmt{kind: iniEntry, name: name}
	if s.peek(0) == '[' {
		st.kind = iniArray
		s.i++
		s.blanks()
		off, err := s.compound(true)
		if err != nil {
			return st, err
		}
		s.i++ // ']'
		st.offset = off
	}
	s.blanks()
	if s.peek(0) != '=' {
		if c := s.peek(0); s.eof() || c == '\n' || c == '\r' || c == ';' {
			return st, fmt.Errorf("syntax error: %q has no value (write %s = VALUE)", name, name)
		}
		return st, fmt.Errorf("syntax error: unexpected %s after %q (expected '=')", s.what(), name)
	}
	s.i++
	s.blanks()
	v, err := s.value()
	if err != nil {
		return st, err
	}
	st.val = v
	st.vars = s.vars
	return st, nil
}

// compound reads a section name (offset false) or an array offset up to
// the closing "]", which it leaves at the cursor. Quoted strings and ${NAME}
// work as in values; offsets also resolve constants.
func (s *iniScanner) compound(offset bool) (string, error) {
	var b strings.Builder
	for {
		if s.eof() {
			return "", errors.New("syntax error: missing ']'")
		}
		c := s.b[s.i]
		switch {
		case c == ']':
			return b.String(), nil
		case offset && (c == ' ' || c == '\t') && s.blanksThen(']'):
			s.blanks()
		case c == '\'':
			t, err := s.single()
			if err != nil {
				return "", err
			}
			b.WriteString(t)
		case c == '$' && s.peek(1) == '{':
			v, err := s.varRef()
			if err != nil {
				return "", err
			}
			b.WriteString(v)
		case c == '"' || (c == ' ' || c == '\t') && s.blanksThen('"'):
			s.blanks()
			t, err := s.quoted()
			if err != nil {
				return "", err
			}
			b.WriteString(t)
		default:
			n := s.run(false)
			if n == 0 {
				if c == '\n' || c == '\r' {
					return "", errors.New("syntax error: missing ']'")
				}
				return "", fmt.Errorf("syntax error: unexpected %s in a name", s.what())
			}
			r := string(s.b[s.i : s.i+n])
			s.i += n
			if offset && iniIsConstant(r) {
				r = iniConstant(r)
			}
			b.WriteString(r)
		}
	}
}

// run returns the length of the run of plain characters at the cursor:
// VALUE_CHARS in a value, SECTION_VALUE_CHARS in a name. "$" followed by
// anything but "{" is plain (LITERAL_DOLLAR); in names "\" escapes the next
// character.
func (s *iniScanner) run(value bool) int {
	stop := "\n\r;\"']\\"
	if value {
		stop = "= \t\n\r;&|^~()!\"'"
	}
	j := s.i
	for j < len(s.b) {
		c := s.b[j]
		switch {
		case c == '$':
			if j+1 >= len(s.b) || s.b[j+1] == '\n' || s.b[j+1] == '\r' {
				j++ // a "$" at the end of the line is itself
				continue
			}
			if s.b[j+1] == '{' {
				return j - s.i
			}
			if s.b[j+1] == '\\' && j+2 < len(s.b) && s.b[j+2] != '\n' && s.b[j+2] != '\r' {
				j += 3
			} else {
				j += 2
			}
		case !value && c == '\\':
			if j+1 >= len(s.b) {
				return j - s.i
			}
			j += 2
		case strings.IndexByte(stop, c) >= 0:
			return j - s.i
		default:
			j++
		}
	}
	return j - s.i
}

// single reads a '...' raw string.
func (s *iniScanner) single() (string, error) {
	end := bytes.IndexByte(s.b[s.i+1:], '\'')
	if end <= 0 {
		return "", errors.New("syntax error: unterminated or empty '...' string")
	}
	t := string(s.b[s.i+1 : s.i+1+end])
	s.i += end + 2
	return t, nil
}

// varRef reads ${NAME} and returns the variable's value.
func (s *iniScanner) varRef() (string, error) {
	j := s.i + 2
	for j < len(s.b) && iniIsLabelChar(s.b[j]) {
		j++
	}
	name := strings.Trim(string(s.b[s.i+2:j]), " ")
	if j >= len(s.b) || s.b[j] != '}' || name == "" {
		return "", errors.New("syntax error: bad ${NAME} reference")
	}
	s.i = j + 1
	v, _ := s.env(name)
	s.vars = append(s.vars, iniVar{name, v})
	return v, nil
}

// quoted reads a "..." string: \" \\ \$ are escapes, other backslashes
// stay, ${NAME} is expanded, and blanks after the closing quote are eaten.
// A \" right before the end of the line closes the string after a
// backslash (php's rule for "C:\path\").
func (s *iniScanner) quoted() (string, error) {
	s.i++
	var out strings.Builder
	start := s.i
	for {
		if s.eof() {
			return "", errors.New("syntax error: missing closing '\"'")
		}
		c := s.b[s.i]
		if c == '"' {
			break
		}
		if c == '$' && s.peek(1) == '{' {
			out.WriteString(iniUnescape(s.b[start:s.i]))
			v, err := s.varRef()
			if err != nil {
				return "", err
			}
			out.WriteString(v)
			start = s.i
			continue
		}
		if c == '\\' && s.i+1 < len(s.b) {
			if n := s.peek(2); s.b[s.i+1] == '"' && (s.i+2 >= len(s.b) || n == '\n' || n == '\r') {
				s.i++ // the backslash is text, the quote ends the string
				break
			}
			s.i += 2
			continue
		}
		s.i++
	}
	out.WriteString(iniUnescape(s.b[start:s.i]))
	s.i++
	s.blanks()
	return out.String(), nil
}

// iniUnescape applies zend_ini_escape_string for double quotes.
func iniUnescape(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			out = append(out, '\\')
			continue
		}
		i++
		switch b[i] {
		case '"', '\\', '$':
			out = append(out, b[i])
		default:
			out = append(out, '\\', b[i])
		}
	}
	return string(out)
}
