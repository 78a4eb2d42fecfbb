package status

// This file holds the escapers of the json, xml and html formats, as PHP's
// json_encode and htmlspecialchars apply them to the status page.

import (
	"bytes"
	"unicode/utf8"
)

// jsonEscape writes s as the inside of a JSON string the way PHP's
// json_encode does with PHP_JSON_INVALID_UTF8_IGNORE and no other flag:
// '/' becomes "\/", every non-ASCII character becomes \uXXXX (a UTF-16
// surrogate pair above U+FFFF), control characters use the short escapes
// or \u00XX, hex digits are lowercase, and invalid UTF-8 bytes are dropped.
// '<', '>', '&' and the single quote stay as they are.
func jsonEscape(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '/':
				b.WriteString(`\/`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if c < 0x20 {
					u4(rune(c))
				} else {
					b.WriteByte(c)
				}
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			// invalid byte: dropped (PHP_JSON_INVALID_UTF8_IGNORE)
		case r >= 0x10000:
			r -= 0x10000
			u4(0xd800 + r>>10)
			u4(0xdc00 + r&0x3ff)
		default:
			u4(r)
		}
	}
}

// htmlEscape writes s with php-fpm's html/xml escaping: '&', '<',
// '>' and '"' become &amp; &lt; &gt; &quot; (the single quote stays), and
// bytes that are not valid UTF-8 are dropped (PHP's ENT_HTML_IGNORE_ERRORS).
// Other characters, non-ASCII included, stay as they are.
func htmlEscape(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch c {
			case '&':
				b.WriteString("&amp;")
			case '<':
				b.WriteString("&lt;")
			case '>':
				b.WriteString("&gt;")
			case '"':
				b.WriteString("&quot;")
			default:
				b.WriteByte(c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
}

// uriEscaped writes uri[?query] HTML-escaped.
func uriEscaped(b *bytes.Buffer, r *procRow) {
	htmlEscape(b, orDash(r.uri))
	if r.query != "" {
		b.WriteByte('?')
		htmlEscape(b, r.query)
	}
}
