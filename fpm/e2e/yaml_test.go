package e2e

// A strict parser for the YAML subset the Kubernetes manifests in
// deploy/kubernetes use, so the tests can check them without a YAML
// dependency: block mappings and sequences, plain and quoted scalars, flow
// sequences of scalars, {} and [], `|` / `|-` literal blocks, `---`
// document separators and comments. Everything else (anchors, aliases,
// tags, folded blocks, flow mappings, tabs in indentation, duplicate keys)
// is an error, so a manifest that parses here means what it seems to.
//
// Values: map[string]any, []any, string (every scalar, numbers included).

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type yamlLine struct {
	n      int // 1-based line number
	indent int
	text   string // without indentation and trailing spaces
}

type yamlParser struct {
	lines []yamlLine
	i     int
}

// parseYAML returns the documents of src (empty ones left out).
func parseYAML(src string) ([]any, error) {
	var docs []any
	var cur []yamlLine
	flush := func() error {
		p := &yamlParser{lines: cur}
		cur = nil
		if !p.skip() {
			return nil
		}
		l := p.lines[p.i]
		if l.indent != 0 {
			return fmt.Errorf("line %d: a document starts at column 1", l.n)
		}
		v, err := p.node(0)
		if err != nil {
			return err
		}
		if p.skip() {
			return fmt.Errorf("line %d: bad indentation", p.lines[p.i].n)
		}
		docs = append(docs, v)
		return nil
	}
	for n, raw := range strings.Split(src, "\n") {
		raw = strings.TrimRight(raw, " \r")
		if raw == "---" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		text := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(text, "\t") {
			return nil, fmt.Errorf("line %d: tab in indentation", n+1)
		}
		cur = append(cur, yamlLine{n: n + 1, indent: len(raw) - len(text), text: text})
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// skip moves past blank and comment lines; false at the end.
func (p *yamlParser) skip() bool {
	for ; p.i < len(p.lines); p.i++ {
		if t := p.lines[p.i].text; t != "" && !strings.HasPrefix(t, "#") {
			return true
		}
	}
	return false
}

func isSeqItem(t string) bool { return t == "-" || strings.HasPrefix(t, "- ") }

// node parses the block that starts at the current line, indented ind.
func (p *yamlParser) node(ind int) (any, error) {
	if isSeqItem(p.lines[p.i].text) {
		return p.seq(ind)
	}
	return p.mapping(ind)
}

func (p *yamlParser) seq(ind int) (any, error) {
	out := []any{}
	for p.skip() {
		l := &p.lines[p.i]
		if l.indent < ind {
			break
		}
		if l.indent > ind || !isSeqItem(l.text) {
			return nil, fmt.Errorf("line %d: bad indentation (a sequence item at column %d expected)", l.n, ind+1)
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if rest == "" || strings.HasPrefix(rest, "#") {
			p.i++
			if !p.skip() || p.lines[p.i].indent <= ind {
				return nil, fmt.Errorf("line %d: empty sequence item", l.n)
			}
			v, err := p.node(p.lines[p.i].indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		// "- key: v" or "- - x": the rest is a node one column past the
		// dash and its spaces; the lines after it continue it there.
		if isSeqItem(rest) || yamlKeyEnd(rest) >= 0 {
			l.indent += len(l.text) - len(rest)
			l.text = rest
			v, err := p.node(l.indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		v, err := yamlInline(rest, l.n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.i++
	}
	return out, nil
}

// yamlKeyEnd returns the index of the ':' ending a plain key, or -1.
func yamlKeyEnd(t string) int {
	if t == "" || strings.ContainsRune(`"'[{&*!|>%@#`+"`", rune(t[0])) {
		return -1
	}
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] == ' ' && i+1 < len(t) && t[i+1] == '#':
			return -1
		case t[i] == ':' && (i+1 == len(t) || t[i+1] == ' '):
			return i
		}
	}
	return -1
}

func (p *yamlParser) mapping(ind int) (any, error) {
	out := map[string]any{}
	for p.skip() {
		l := p.lines[p.i]
		if l.indent < ind {
			break
		}
		if l.indent > ind {
			return nil, fmt.Errorf("line %d: bad indentation (column %d, expected %d)", l.n, l.indent+1, ind+1)
		}
		k := yamlKeyEnd(l.text)
		if k < 0 {
			return nil, fmt.Errorf("line %d: expected \"key: value\", got %q", l.n, l.text)
		}
		key, rest := l.text[:k], strings.TrimLeft(l.text[k+1:], " ")
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate key %q", l.n, key)
		}
		p.i++
		var v any
		var err error
		switch {
		case rest == "" || strings.HasPrefix(rest, "#"):
			switch {
			case p.skip() && p.lines[p.i].indent > ind:
				v, err = p.node(p.lines[p.i].indent)
			case p.skip() && p.lines[p.i].indent == ind && isSeqItem(p.lines[p.i].text):
				v, err = p.seq(ind) // "key:\n- item", the sequence not indented
			default:
				err = fmt.Errorf("line %d: key %q has no value", l.n, key)
			}
		case rest == "|" || rest == "|-":
			v, err = p.literal(ind, rest == "|-", l.n)
		default:
			v, err = yamlInline(rest, l.n)
		}
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}

// literal reads a `|` block: the lines indented past ind, their common
// indentation (that of the first non-blank line) removed.
func (p *yamlParser) literal(ind int, strip bool, n int) (any, error) {
	var b strings.Builder
	content := -1
	for ; p.i < len(p.lines); p.i++ {
		l := p.lines[p.i]
		if l.text == "" {
			if content >= 0 {
				b.WriteByte('\n')
			}
			continue
		}
		if l.indent <= ind {
			break
		}
		if content < 0 {
			content = l.indent
		}
		if l.indent < content {
			return nil, fmt.Errorf("line %d: bad indentation in a literal block (column %d, expected %d)", l.n, l.indent+1, content+1)
		}
		b.WriteString(strings.Repeat(" ", l.indent-content) + l.text + "\n")
	}
	if content < 0 {
		return nil, fmt.Errorf("line %d: empty literal block", n)
	}
	s := strings.TrimRight(b.String(), "\n")
	if !strip {
		s += "\n"
	}
	return s, nil
}

// yamlInline parses a value written on its key's or dash's line.
func yamlInline(s string, n int) (any, error) {
	switch {
	case s == "{}":
		return map[string]any{}, nil
	case s[0] == '[':
		return yamlFlowSeq(s, n)
	case s[0] == '"' || s[0] == '\'':
		v, rest, err := yamlQuoted(s, n)
		if err != nil {
			return nil, err
		}
		if rest = strings.TrimLeft(rest, " "); rest != "" && !strings.HasPrefix(rest, "#") {
			return nil, fmt.Errorf("line %d: text after a quoted scalar: %q", n, rest)
		}
		return v, nil
	case strings.ContainsRune("{&*!|>%@`", rune(s[0])):
		return nil, fmt.Errorf("line %d: unsupported YAML (%q): anchors, aliases, tags, flow mappings and folded blocks are not used here", n, s)
	}
	if i := strings.Index(s, " #"); i >= 0 {
		s = strings.TrimRight(s[:i], " ")
	}
	if strings.Contains(s, ": ") {
		return nil, fmt.Errorf("line %d: a mapping inside a plain scalar: %q", n, s)
	}
	return s, nil
}

// yamlQuoted parses a quoted scalar at the start of s and returns it and
// the rest of s.
func yamlQuoted(s string, n int) (string, string, error) {
	var b strings.Builder
	q := s[0]
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == q:
			return b.String(), s[i+1:], nil
		case c == '\\' && q == '"' && i+1 < len(s):
			i++
			switch s[i] {
			case '"', '\\', '/':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				return "", "", fmt.Errorf("line %d: unsupported escape \\%c", n, s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("line %d: unterminated quoted scalar", n)
}

// yamlFlowSeq parses ["a", b, 'c'] (scalars only) or [].
func yamlFlowSeq(s string, n int) (any, error) {
	out := []any{}
	rest := strings.TrimLeft(s[1:], " ")
	if strings.HasPrefix(rest, "]") {
		rest = rest[1:]
	} else {
		for {
			var item string
			if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
				v, r, err := yamlQuoted(rest, n)
				if err != nil {
					return nil, err
				}
				item, rest = v, r
			} else {
				end := strings.IndexAny(rest, ",]")
				if end < 0 {
					return nil, fmt.Errorf("line %d: unterminated flow sequence", n)
				}
				item, rest = strings.TrimSpace(rest[:end]), rest[end:]
				if item == "" || strings.ContainsAny(item, "[{\"'#") {
					return nil, fmt.Errorf("line %d: unsupported flow sequence item %q", n, item)
				}
			}
			out = append(out, item)
			rest = strings.TrimLeft(rest, " ")
			if strings.HasPrefix(rest, ",") {
				rest = strings.TrimLeft(rest[1:], " ")
				continue
			}
			if !strings.HasPrefix(rest, "]") {
				return nil, fmt.Errorf("line %d: expected , or ] in a flow sequence", n)
			}
			rest = rest[1:]
			break
		}
	}
	if rest = strings.TrimLeft(rest, " "); rest != "" && !strings.HasPrefix(rest, "#") {
		return nil, fmt.Errorf("line %d: text after a flow sequence: %q", n, rest)
	}
	return out, nil
}

func TestYAMLSubset(t *testing.T) {
	type m = map[string]any
	type s = []any
	for _, tc := range []struct {
		name, src string
		want      []any  // documents
		err       string // substring of the error, when it must fail
	}{
		{name: "mapping", src: "a: 1\nb: two words # comment\nc: 'it''s'\nd: \"x: y # z\\n\"\n",
			want: []any{m{"a": "1", "b": "two words", "c": "it's", "d": "x: y # z\n"}}},
		{name: "nested and sequences", src: "# head\nspec:\n  ports:\n    - name: http\n      port: 80\n    - 9000\n  list:\n  - a\n  - b\n",
			want: []any{m{"spec": m{"ports": s{m{"name": "http", "port": "80"}, "9000"}, "list": s{"a", "b"}}}}},
		{name: "flow and empty", src: "cmd: [\"/bin/sh\", -c, 'echo a, b']\ne: []\nd: {}\n",
			want: []any{m{"cmd": s{"/bin/sh", "-c", "echo a, b"}, "e": s{}, "d": m{}}}},
		{name: "literal", src: "data:\n  f: |\n    line 1\n\n      indented # not a comment\n  g: |-\n    x\n  h: 1\n",
			want: []any{m{"data": m{"f": "line 1\n\n  indented # not a comment\n", "g": "x", "h": "1"}}}},
		{name: "documents", src: "---\na: 1\n---\n# only a comment\n---\nb: 2\n", want: []any{m{"a": "1"}, m{"b": "2"}}},
		{name: "nested sequence item", src: "- - a\n  - b\n-\n  c: d\n", want: []any{s{s{"a", "b"}, m{"c": "d"}}}},
		{name: "url and image", src: "image: nginx:1.27\nurl: http://x/y\n", want: []any{m{"image": "nginx:1.27", "url": "http://x/y"}}},

		{name: "tab", src: "a:\n\tb: 1\n", err: "tab in indentation"},
		{name: "over-indented", src: "a: 1\n  b: 2\n", err: "bad indentation"},
		{name: "misaligned", src: "a:\n    b: 1\n  c: 2\n", err: "bad indentation"},
		{name: "misaligned item", src: "l:\n  - a\n   - b\n", err: "bad indentation"},
		{name: "duplicate", src: "a: 1\nb: 2\na: 3\n", err: `duplicate key "a"`},
		{name: "duplicate nested", src: "a:\n  x: 1\n  x: 2\n", err: `duplicate key "x"`},
		{name: "no value", src: "a:\nb: 1\n", err: `key "a" has no value`},
		{name: "not a key", src: "a: 1\njust text\n", err: "expected \"key: value\""},
		{name: "unterminated", src: "a: \"x\n", err: "unterminated"},
		{name: "anchor", src: "a: &x 1\n", err: "unsupported"},
		{name: "alias", src: "a: *x\n", err: "unsupported"},
		{name: "folded", src: "a: >\n  x\n", err: "unsupported"},
		{name: "flow mapping", src: "a: {b: 1}\n", err: "unsupported"},
		{name: "plain mapping", src: "a: b: c\n", err: "a mapping inside a plain scalar"},
		{name: "after quote", src: "a: \"x\" y\n", err: "text after a quoted scalar"},
		{name: "literal dedent", src: "a: |\n    x\n   y\n", err: "bad indentation in a literal block"},
		{name: "indented document", src: "  a: 1\n", err: "starts at column 1"},
		{name: "mixed", src: "a:\n  - x\n  b: 1\n", err: "sequence item"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseYAML(tc.src)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseYAML(%q) = %v, %v; want error with %q", tc.src, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parseYAML(%q)\n got %#v\nwant %#v", tc.src, got, tc.want)
			}
		})
	}
}
