package config

// Errors that teach a php-fpm operator the TOML spelling: dotted names,
// [www] sections, and an ini file given where TOML is expected.

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// dottedKey is the error for a php-fpm dotted name such as
// pm.max_children, which TOML reads as the table pm holding max_children.
// joined is the underscore spelling; names are the table's known keys.
func dottedKey(kp keyPath, joined string, names []string) string {
	msg := fmt.Sprintf("unknown key %q", keyString(kp))
	if slices.Contains(names, joined) {
		return msg + fmt.Sprintf(": write %s (php-fpm's dotted names become underscores)", joined)
	}
	if s := suggest(joined, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// teachTable is the error for an unknown top-level table that a php-fpm
// operator would write: [global] or a pool section such as [www]; "" for
// anything else.
func teachTable(kp keyPath, v any) string {
	if len(kp) != 1 {
		return ""
	}
	if _, ok := v.(map[string]any); !ok {
		return ""
	}
	name := kp[0]
	if strings.EqualFold(name, "global") {
		return "unknown table [global]: global keys go at the top of the file, before any table"
	}
	pool := tomlNames(reflect.TypeFor[Pool]())
	for _, sub := range slices.Sorted(maps.Keys(v.(map[string]any))) {
		if joined := name + "_" + sub; slices.Contains(pool, joined) { // pm.max_children outside a pool
			return fmt.Sprintf("unknown key %q: write %s in a [pool.NAME] table (php-fpm's dotted names become underscores)", name+"."+sub, joined)
		}
	}
	return fmt.Sprintf("unknown table [%s]: pools are [pool.%s]", keyString(kp), keyString(kp))
}

// looksLikeINI reports whether a file that is not valid TOML reads like a
// php-fpm ini file: a line that is a ";" comment, or a "key = value" whose
// value is bare text (pm = dynamic, listen = /run/php/www.sock), which TOML
// would have quoted.
func looksLikeINI(data []byte) bool {
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return false // not a text file at all
	}
	for line := range bytes.Lines(stripBOM(data)) {
		t := strings.TrimSpace(string(line))
		if strings.HasPrefix(t, ";") {
			return true
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok || strings.HasPrefix(t, "#") {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" || strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.[]") != "" || v == "" {
			continue
		}
		if c := v[0] | 0x20; c != '/' && (c < 'a' || c > 'z') {
			continue // quoted, a number, an array or table, or not a value
		}
		if w, _, _ := strings.Cut(v, " "); w == "true" || w == "false" || w == "inf" || w == "nan" {
			continue
		}
		return true
	}
	return false
}

// dottedLine is the error for line n of src when it sets a php-fpm dotted
// name that has an underscore spelling (pm.max_children after pm =
// "dynamic" is a TOML error: pm is already a string); "" otherwise.
func dottedLine(src []byte, n int) string {
	lines := bytes.Split(src, []byte("\n"))
	if n < 1 || n > len(lines) {
		return ""
	}
	k, _, ok := strings.Cut(string(lines[n-1]), "=")
	k = strings.TrimSpace(k)
	if !ok || !strings.Contains(k, ".") || strings.ContainsAny(k, "\"' \t[]") {
		return ""
	}
	joined := strings.ReplaceAll(k, ".", "_")
	if !slices.Contains(knownKeys(), joined) {
		return ""
	}
	return fmt.Sprintf("key %q: write %s (php-fpm's dotted names become underscores)", k, joined)
}

// knownKeys are the TOML names of the global and pool keys.
func knownKeys() []string {
	return append(tomlNames(reflect.TypeFor[Config]()), tomlNames(reflect.TypeFor[Pool]())...)
}

// tomlNames are the TOML names of the fields of the struct type t.
func tomlNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}
