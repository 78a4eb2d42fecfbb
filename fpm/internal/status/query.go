package status

// This file reads the status page's query string as PHP's $_GET would.

import "strings"

// maxInputVars is PHP's default max_input_vars: $_GET gets at most this
// many variables; later ones are dropped.
const maxInputVars = 1000

// ParseQuery reads QUERY_STRING the way php-fpm does: PHP parses it
// into $_GET and only the presence of a key counts (?json=0 is json). The
// format is "html", "xml", "json", "openmetrics" or "text", in that order
// of precedence when several keys are present; unknown keys are ignored and
// repeated keys are the same as one. full reports the "full" key; it is
// returned even with openmetrics, where Render ignores it.
//
// Keys are decoded as PHP does: split at '&', name before the first '=',
// percent- and '+'-decoded, cut at a NUL, leading spaces dropped, and
// "name[...]" counts as name (PHP makes it an array) while "name[" without
// a ']' does not. Only the first 1000 pairs count (max_input_vars).
func ParseQuery(q string) (format string, full bool) {
	var html, xml, json, om bool
	n := 0
	for pair := range strings.SplitSeq(q, "&") {
		if pair == "" {
			continue // PHP's strtok skips empty fields; they do not count
		}
		if n++; n > maxInputVars {
			break
		}
		name, _, _ := strings.Cut(pair, "=")
		switch getKey(name) {
		case "html":
			html = true
		case "xml":
			xml = true
		case "json":
			json = true
		case "openmetrics":
			om = true
		case "full":
			full = true
		}
	}
	switch {
	case html:
		format = HTML
	case xml:
		format = XML
	case json:
		format = JSON
	case om:
		format = OpenMetrics
	default:
		format = Text
	}
	return format, full
}

// getKey returns the top-level $_GET key that PHP registers for the raw
// (still encoded) variable name, or "" when PHP registers none. Names that
// PHP rewrites (' ' and '.' become '_', an unclosed '[' becomes '_') are
// returned rewritten, so they never equal a plain word like "json".
func getKey(raw string) string {
	name := urlDecode(raw)
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimLeft(name, " ")
	base, rest, isArray := strings.Cut(name, "[")
	if base == "" {
		return ""
	}
	base = strings.NewReplacer(" ", "_", ".", "_").Replace(base)
	if isArray && !strings.Contains(rest, "]") {
		return base + "_" + rest
	}
	return base
}

// urlDecode decodes like PHP's urldecode: '+' is a space, "%XX" with two
// hex digits is a byte, any other '%' stays.
func urlDecode(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
