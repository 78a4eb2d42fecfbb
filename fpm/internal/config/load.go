package config

// This file loads a configuration file (SPEC §3): strict decoding with a
// position for every error, defaults, relative paths, and validation, which
// also fills in the resolved values (see config.go). Every
// problem is collected, so `gofpm check` reports all of them at once, each as
// FILE:LINE:COL: message (SPEC §8).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/gofpm/gofpm/fpm/internal/oneline"
)

// LoadOptions are the facts about the running master that validation needs.
type LoadOptions struct {
	// AllowRoot is -R / --allow-to-run-as-root: a root master may run pools
	// that set no user, or whose user or group is root.
	AllowRoot bool
	// Euid is the effective uid of the master (os.Geteuid()). Tests pass 0
	// or 1000. A root master needs a user per pool; a non-root master
	// refuses user, group, groups and chroot.
	Euid int
	// SkipCommandCheck turns off the check that command[0] exists and is
	// executable (for tools that translate or lint configs elsewhere).
	SkipCommandCheck bool
}

// PosError is one configuration problem and where it is.
type PosError struct {
	File      string // the config path as the user passed it
	Line, Col int    // 1-based; Col counts bytes
	Msg       string
}

// Error formats e as FILE:LINE:COL: message, always on one line.
func (e PosError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, oneline.Escape(e.Msg))
}

// ConfigError is returned by Load when the file is not valid TOML or not a
// valid configuration. Errs is sorted by file (the main one first, then
// the included ones in the order read) and position.
type ConfigError struct {
	Errs []PosError
}

// Error returns one line per problem.
func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Errs))
	for i, pe := range e.Errs {
		lines[i] = pe.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads, decodes and validates the config file at path. Relative paths in
// the file are resolved against the file's folder. A file that cannot be read
// gives a wrapped I/O error; anything wrong inside the file gives a
// *ConfigError listing every problem with its line and column.
func Load(path string, o LoadOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	l := &loader{file: path, opts: o}
	cfg := l.load(data, abs)
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i], l.errs[j]
			if fa, fb := l.fileOrder[a.File], l.fileOrder[b.File]; fa != fb {
				return fa < fb // the main file first, then the included ones in order
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, &ConfigError{Errs: l.errs}
	}
	return cfg, nil
}

// loader carries the state of one Load call.
type loader struct {
	file string // the file being parsed, as named in errors
	opts LoadOptions
	keys map[string]keyPos // key path → position in the main file, from findKeys
	errs []PosError
	// poolSrc holds, for each pool read from an included file, that file
	// (include.go); fileOrder the order of the files for sorting errors.
	poolSrc   map[string]*source
	fileOrder map[string]int
	// broken holds the keys whose value could not be decoded; validation
	// says nothing more about them (their field holds a zero value).
	broken map[string]bool
	// pools is the number of entries in the "pool" table, tables or not.
	pools int
}

// keyPath is a key path such as {"pool", "www", "listen"}; an element of an
// array is written "[N]" (N from 0), as in {"http", "route", "[1]", "pool"}.
type keyPath []string

func (p keyPath) add(k ...string) keyPath {
	q := make(keyPath, 0, len(p)+len(k))
	return append(append(q, p...), k...)
}

func (p keyPath) id() string { return strings.Join(p, "\x00") }

// errAt records an error at the position of path, or of its nearest
// enclosing table when path itself is absent from the file, or at 1:1.
// Nothing is recorded for a key whose value could not be decoded.
// A key of a pool read from an included file is found in that file.
func (l *loader) errAt(path keyPath, format string, args ...any) {
	src := &source{file: l.file, keys: l.keys}
	if len(path) >= 2 && path[0] == "pool" && l.poolSrc[path[1]] != nil {
		src = l.poolSrc[path[1]]
	}
	l.errIn(src, path, format, args...)
}

// errIn records an error at the position of path in the file src.
func (l *loader) errIn(src *source, path keyPath, format string, args ...any) {
	if l.broken[path.id()] {
		return
	}
	line, col := src.pos(path)
	l.errs = append(l.errs, PosError{File: src.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// load does the work of Load; errors are collected in l.errs.
func (l *loader) load(data []byte, abs string) *Config {
	raw, md, ok := l.parse(data)
	if !ok {
		return nil
	}
	l.keys = findKeys(data)

	cfg := &Config{Path: abs, Dir: filepath.Dir(abs)}
	l.decodeTable(reflect.ValueOf(cfg).Elem(), raw, nil, "", "pool", "http")
	order := poolOrder(md)
	l.readIncludes(cfg, raw, &order)
	l.decodePools(cfg, raw["pool"], order)
	hset := l.decodeHTTP(cfg, raw["http"])

	cfg.setDefaults(func(k string) bool { _, ok := raw[k]; return ok })
	psets := map[string]map[string]bool{}
	poolRaw, _ := raw["pool"].(map[string]any)
	for _, name := range cfg.PoolOrder {
		m, _ := poolRaw[name].(map[string]any)
		set := map[string]bool{}
		for k := range m {
			set[k] = true
		}
		psets[name] = set
		cfg.Pools[name].setDefaults(func(k string) bool { return set[k] })
	}
	if cfg.HTTP != nil {
		cfg.HTTP.setDefaults(cfg, func(k string) bool { return hset[k] })
	}

	cfg.resolvePaths()
	l.validate(cfg, psets)
	return cfg
}

// parse decodes the TOML syntax; a syntax error is the only error then.
func (l *loader) parse(data []byte) (raw map[string]any, md toml.MetaData, ok bool) {
	defer func() {
		// BurntSushi reports syntax errors as ParseError; anything it panics
		// with is still the input's fault, so keep it one line with a position.
		if r := recover(); r != nil {
			l.errs = append(l.errs, PosError{File: l.file, Line: 1, Col: 1, Msg: fmt.Sprintf("invalid TOML: %v", r)})
			ok = false
		}
	}()
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		pe := PosError{File: l.file, Line: 1, Col: 1, Msg: "invalid TOML: " + err.Error()}
		if looksLikeINI(data) {
			pe.Msg = "this is a php-fpm ini file: gofpm import-php-fpm " + l.file
			l.errs = append(l.errs, pe)
			return nil, md, false
		}
		var perr toml.ParseError
		if errors.As(err, &perr) {
			pe.Msg = "invalid TOML: " + perr.Message
			pe.Line, pe.Col = max(perr.Position.Line, 1), max(perr.Position.Col, 1)
			// Position.Start (a byte offset into the text without its BOM) is
			// exact; Line and Col can be one line late or past the line's end.
			src := stripBOM(data)
			if st := perr.Position.Start; perr.Position.Line > 0 && st >= 0 && st <= len(src) {
				pe.Line = 1 + bytes.Count(src[:st], []byte("\n"))
				pe.Col = st - bytes.LastIndexByte(src[:st], '\n')
			}
			if msg := dottedLine(src, pe.Line); msg != "" {
				pe.Msg = msg // pm = "dynamic" then pm.max_children = 5
			}
		}
		l.errs = append(l.errs, pe)
		return nil, md, false
	}
	return raw, md, true
}

// keyString writes a key path the way TOML would: bare where possible,
// quoted otherwise; array indexes are left out.
func keyString(p keyPath) string {
	parts := make([]string, 0, len(p))
	for _, k := range p {
		if strings.HasPrefix(k, "[") && strings.HasSuffix(k, "]") {
			continue
		}
		if k == "" || strings.TrimLeft(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			k = strconv.Quote(k)
		}
		parts = append(parts, k)
	}
	return strings.Join(parts, ".")
}
