package phpimport

// Reading files as php-fpm does: one line at a time, include= globs with
// php-fpm's depth limit, [global] and pool sections, $pool expansion.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gofpm/gofpm/fpm/internal/oneline"
)

// readTop reads one file named by the user. Like php-fpm with its main
// file, it starts in [global]. A file already read is skipped.
func (imp *importer) readTop(path string) error {
	if abs, err := filepath.Abs(path); err == nil {
		if from, ok := imp.seen[filepath.Clean(abs)]; ok {
			note := "skipped: already read"
			if from != "" {
				note += " (" + from + ")"
			}
			imp.warn(loc{file: path, idx: len(imp.sources)}, "", "%s", note)
			return nil
		}
	}
	imp.cur = nil
	return imp.readFile(path, 0, "")
}

// readFile reads one configuration file line by line, as php-fpm does.
func (imp *importer) readFile(path string, depth int, from string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	idx := len(imp.sources)
	imp.sources = append(imp.sources, source{path: path, from: from})
	if abs, err := filepath.Abs(path); err == nil {
		if _, ok := imp.seen[filepath.Clean(abs)]; !ok {
			imp.seen[filepath.Clean(abs)] = from
		}
	}
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		at := loc{file: path, idx: idx, line: n + 1}
		stmts, err := parseIniLine(line, os.LookupEnv)
		if err != nil {
			return fmt.Errorf("%s: %v", at, err)
		}
		for _, st := range stmts {
			if err := imp.apply(st, at, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply handles one statement of a line.
func (imp *importer) apply(st iniStmt, at loc, depth int) error {
	d := st.name
	switch st.kind {
	case iniSection:
		d = "[" + st.name + "]"
	case iniArray:
		d = st.name + "[" + st.offset + "]"
	}
	for _, s := range []string{st.name, st.offset, st.val.s, st.val.raw} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%s: %s: not valid UTF-8 (TOML needs UTF-8)", at, oneline.Escape(strings.ToValidUTF8(d, "\uFFFD")))
		}
	}
	if len(st.vars) > 0 && !(st.kind == iniArray && st.name == "env" && st.val.onlyVar != "") {
		var vs []string
		for _, v := range st.vars {
			vs = append(vs, fmt.Sprintf("${%s} (%q)", v.name, v.val))
		}
		imp.warn(at, d, "%s read from the environment of this import; php-fpm reads it each time it starts", strings.Join(vs, ", "))
	}
	switch st.kind {
	case iniSection:
		return imp.section(st.name, at, d)
	case iniArray:
		return imp.array(st, at, d)
	}
	if st.name == "include" {
		return imp.include(st.val.s, at, depth)
	}
	if imp.cur == nil {
		return imp.global(st, at, d)
	}
	return imp.poolEntry(st, at, d)
}

// section switches to [global] or to a pool, creating it on first use.
func (imp *importer) section(name string, at loc, d string) error {
	if strings.EqualFold(name, "global") {
		imp.cur = nil
		return nil
	}
	for _, p := range imp.pools {
		if strings.EqualFold(p.name, name) { // php-fpm re-opens the pool
			imp.cur = p
			return nil
		}
	}
	if name == "" {
		return fmt.Errorf("%s: []: a pool needs a name", at)
	}
	key := poolKey(name)
	if key != name {
		imp.warn(at, d, "pool renamed %q (gofpm pool names use letters, digits, \"_\", \"-\" and \".\")", key)
	}
	for _, p := range imp.pools {
		if p.key == key {
			return fmt.Errorf("%s: %s: becomes pool %q, like [%s] (%s)", at, d, key, p.name, p.at)
		}
	}
	p := &pool{name: name, key: key, at: at}
	p.vals = map[string]string{}
	p.paths = map[string]strAt{}
	imp.pools = append(imp.pools, p)
	imp.cur = p
	return nil
}

// poolKey turns a php-fpm pool name into a gofpm one.
func poolKey(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, name)
}

// include reads the files matching a glob pattern, in glob(3) order.
func (imp *importer) include(pat string, at loc, depth int) error {
	const d = "include"
	if pat == "" {
		return fmt.Errorf("%s: include: empty pattern", at)
	}
	if !filepath.IsAbs(pat) {
		if imp.prefix != "" {
			imp.warn(at, d, "relative pattern %q resolved against the prefix %s", pat, imp.prefix)
			pat = filepath.Join(imp.prefix, pat)
		} else {
			dir := filepath.Dir(at.file)
			imp.warn(at, d, "relative pattern %q resolved against the folder of %s (php-fpm uses its prefix, -p)", pat, at.file)
			pat = filepath.Join(dir, pat)
		}
	}
	matches, err := filepath.Glob(pat)
	if err != nil {
		return fmt.Errorf("%s: include: bad pattern %q: %v", at, pat, err)
	}
	sort.Strings(matches)
	n := 0
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			return fmt.Errorf("%s: include: %v", at, err)
		}
		if fi.IsDir() {
			continue // php-fpm skips directories
		}
		if depth+1 >= maxIncludeDepth {
			return fmt.Errorf("%s: include: failed to include more than %d files recursively", at, maxIncludeDepth)
		}
		if err := imp.readFile(m, depth+1, "included from "+at.String()); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		imp.warn(at, d, "nothing matches the include pattern %q", pat)
	}
	return nil
}

// poolName expands $pool in a string value, as php-fpm does for string
// directives and for env/php_value values.
func (imp *importer) poolName(s string, at loc, d string) (string, error) {
	if !strings.Contains(s, "$pool") {
		return s, nil
	}
	if imp.cur == nil {
		return "", fmt.Errorf("%s: %s: can't use '$pool' when the pool is not defined", at, d)
	}
	return strings.ReplaceAll(s, "$pool", imp.cur.name), nil
}
