package phpimport

// Values of the ini reader, after Zend/zend_ini_parser.y: tokens, keywords,
// constants and the | & ^ ~ ! ( ) integer expressions.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const (
	iniTkStr   = iota // a piece of text
	iniTkConst        // a bare constant name
	iniTkBool         // yes/no/..., s is "1" or ""
	iniTkOp           // & | ^ ~ ! ( )
)

type iniTok struct {
	kind  int
	s     string
	op    byte
	isVar bool
}

// value reads the value of an entry up to the end of the line, a comment
// or a "\r", and computes it as the Zend ini parser does.
func (s *iniScanner) value() (iniValue, error) {
	start := s.i
	firstVar := len(s.vars)
	var toks []iniTok
loop:
	for !s.eof() {
		c := s.b[s.i]
		switch {
		case c == '\n' || c == '\r' || c == ';':
			break loop
		case c == ' ' || c == '\t':
			j := s.i
			for j < len(s.b) && (s.b[j] == ' ' || s.b[j] == '\t') {
				j++
			}
			if j >= len(s.b) || s.b[j] == '\n' || s.b[j] == '\r' || s.b[j] == ';' {
				s.i = j
				break loop
			}
			if s.b[j] != '"' { // blanks before a quote vanish
				toks = append(toks, iniTok{kind: iniTkStr, s: string(s.b[s.i:j])})
			}
			s.i = j
		case c == '\'':
			t, err := s.single()
			if err != nil {
				return iniValue{}, err
			}
			toks = append(toks, iniTok{kind: iniTkStr, s: t})
		case c == '$' && s.peek(1) == '{':
			v, err := s.varRef()
			if err != nil {
				return iniValue{}, err
			}
			toks = append(toks, iniTok{kind: iniTkStr, s: v, isVar: true})
		case c == '"':
			t, err := s.quoted()
			if err != nil {
				return iniValue{}, err
			}
			toks = append(toks, iniTok{kind: iniTkStr, s: t})
		case strings.IndexByte("&|^~()!", c) >= 0:
			s.i++
			s.blanks()
			toks = append(toks, iniTok{kind: iniTkOp, op: c})
		case c == '=':
			return iniValue{}, errors.New("syntax error: unexpected '=' in a value (quote the value)")
		default:
			n := s.run(true)
			if n == 0 {
				return iniValue{}, fmt.Errorf("syntax error: unexpected %s in a value", s.what())
			}
			r := string(s.b[s.i : s.i+n])
			s.i += n
			switch kw := iniKeyword(r); {
			case kw != "-":
				s.blanks()
				toks = append(toks, iniTok{kind: iniTkBool, s: kw})
			case iniIsConstant(r):
				toks = append(toks, iniTok{kind: iniTkConst, s: r})
			default:
				toks = append(toks, iniTok{kind: iniTkStr, s: r})
			}
		}
	}
	v := iniValue{raw: strings.TrimRight(string(s.b[start:s.i]), " \t"), vars: s.vars[firstVar:]}
	if len(toks) == 1 && toks[0].isVar && len(v.vars) == 1 {
		v.onlyVar = v.vars[0].name
	}
	for _, t := range toks {
		if t.kind == iniTkBool {
			if len(toks) != 1 {
				return v, errors.New("syntax error: yes, no, on, off, true, false, none and null must be the whole value (quote them)")
			}
			v.s = t.s
			return v, nil
		}
	}
	p := &iniParser{toks: toks}
	if len(toks) > 0 {
		r, err := p.expr()
		if err != nil {
			return v, err
		}
		if p.i < len(toks) {
			return v, errors.New("syntax error: unexpected text after ')'")
		}
		v.s = r
	}
	return v, nil
}

type iniParser struct {
	toks []iniTok
	i    int
}

// expr: operand { (| & ^) operand }, left to right, one precedence.
func (p *iniParser) expr() (string, error) {
	l, err := p.unary()
	if err != nil {
		return "", err
	}
	for p.i < len(p.toks) && p.toks[p.i].kind == iniTkOp && strings.IndexByte("|&^", p.toks[p.i].op) >= 0 {
		op := p.toks[p.i].op
		p.i++
		r, err := p.unary()
		if err != nil {
			return "", err
		}
		l = iniOp(op, l, r)
	}
	return l, nil
}

// unary: ~ unary | ! unary | ( expr ) | a run of text and constants.
func (p *iniParser) unary() (string, error) {
	if p.i >= len(p.toks) {
		return "", errors.New("syntax error: the value ends after an operator")
	}
	if t := p.toks[p.i]; t.kind == iniTkOp {
		p.i++
		switch t.op {
		case '~', '!':
			v, err := p.unary()
			if err != nil {
				return "", err
			}
			return iniOp(t.op, v, ""), nil
		case '(':
			v, err := p.expr()
			if err != nil {
				return "", err
			}
			if p.i >= len(p.toks) || p.toks[p.i].kind != iniTkOp || p.toks[p.i].op != ')' {
				return "", errors.New("syntax error: missing ')'")
			}
			p.i++
			return v, nil
		}
		return "", fmt.Errorf("syntax error: unexpected '%c'", t.op)
	}
	var b strings.Builder
	for p.i < len(p.toks) && (p.toks[p.i].kind == iniTkStr || p.toks[p.i].kind == iniTkConst) {
		if t := p.toks[p.i]; t.kind == iniTkConst {
			b.WriteString(iniConstant(t.s))
		} else {
			b.WriteString(t.s)
		}
		p.i++
	}
	return b.String(), nil
}

// iniOp is zend_ini_do_op: both sides through atoi, 32-bit arithmetic.
func iniOp(op byte, a, b string) string {
	x, y := atoi(a), atoi(b)
	var r int32
	switch op {
	case '|':
		r = x | y
	case '&':
		r = x & y
	case '^':
		r = x ^ y
	case '~':
		r = ^x
	case '!':
		if x == 0 {
			r = 1
		}
	}
	return strconv.Itoa(int(r))
}
