package config

// include = ["pool.d/*.toml"]: drop-in files holding [pool.NAME] tables,
// read after the main file as php-fpm reads include = pool.d/*.conf.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// source is one file of a configuration and where its keys are.
type source struct {
	file string // as named in errors
	keys map[string]keyPos
}

// pos is where path is in the file: the key itself, or its nearest
// enclosing table, or 1:1.
func (s *source) pos(path keyPath) (line, col int) {
	for n := len(path); n > 0; n-- {
		if p, ok := s.keys[path[:n].id()]; ok {
			return p.line, p.col
		}
	}
	return 1, 1
}

// readIncludes reads the files cfg.Include matches, in order, and merges
// their pools into raw["pool"], appending them to order. Each file may hold
// [pool.NAME] tables only; a pool defined twice is an error naming both
// places.
func (l *loader) readIncludes(cfg *Config, raw map[string]any, order *[]string) {
	if len(cfg.Include) == 0 {
		return
	}
	main := &source{file: l.file, keys: l.keys}
	l.fileOrder = map[string]int{l.file: 0}
	pools, ok := raw["pool"].(map[string]any)
	if _, present := raw["pool"]; !present {
		pools, ok = map[string]any{}, true
	}
	if !ok {
		return // decodePools says what is wrong with it
	}
	where := func(name string) string { // "FILE:LINE:COL" of a pool's header
		src := main
		if s := l.poolSrc[name]; s != nil {
			src = s
		}
		line, col := src.pos(keyPath{"pool", name})
		return fmt.Sprintf("%s:%d:%d", src.file, line, col)
	}
	self, _ := filepath.Abs(l.file)
	for i, pat := range cfg.Include {
		at := keyPath{"include", fmt.Sprintf("[%d]", i)}
		if pat == "" {
			l.errIn(main, at, "include: an empty pattern")
			continue
		}
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(filepath.Dir(l.file), pat)
		}
		files, err := filepath.Glob(pat)
		if err != nil {
			l.errIn(main, at, "include: pattern %q: %v", cfg.Include[i], err)
			continue
		}
		for _, f := range files {
			if abs, _ := filepath.Abs(f); abs == self || slices.Contains(cfg.Included, f) || isDir(f) {
				continue // php-fpm skips folders; the main file is read already
			}
			cfg.Included = append(cfg.Included, f)
			src, fpools, forder := l.readInclude(f)
			if src == nil {
				continue
			}
			for _, name := range forder {
				if _, dup := pools[name]; dup {
					l.errIn(src, keyPath{"pool", name}, "pool %q is already defined at %s", name, where(name))
					continue
				}
				pools[name] = fpools[name]
				if l.poolSrc == nil {
					l.poolSrc = map[string]*source{}
				}
				l.poolSrc[name] = src
				*order = append(*order, name)
			}
		}
	}
	if len(pools) > 0 {
		raw["pool"] = pools
	}
}

// readInclude parses one included file and returns its pools in the order
// they appear; errors are recorded (src is nil when it could not be parsed).
func (l *loader) readInclude(f string) (src *source, pools map[string]any, order []string) {
	l.fileOrder[f] = len(l.fileOrder)
	data, err := os.ReadFile(f)
	if err != nil {
		l.errs = append(l.errs, PosError{File: f, Line: 1, Col: 1, Msg: fmt.Sprintf("reading included file: %v", err)})
		return nil, nil, nil
	}
	mainFile := l.file
	l.file = f
	raw, md, ok := l.parse(data)
	l.file = mainFile
	if !ok {
		return nil, nil, nil
	}
	src = &source{file: f, keys: findKeys(data)}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if k == "pool" {
			continue
		}
		kp := keyPath{k}
		switch msg := teachTable(kp, raw[k]); {
		case msg != "":
			l.errIn(src, kp, "%s", msg)
		case k == "include":
			l.errIn(src, kp, "include: only the main configuration file may include others")
		default:
			l.errIn(src, kp, "%q: an included file holds [pool.NAME] tables only (global keys go in %s)", k, mainFile)
		}
	}
	pools, ok = raw["pool"].(map[string]any)
	if !ok {
		if _, present := raw["pool"]; present {
			l.errIn(src, keyPath{"pool"}, "pool: want [pool.NAME] tables, got %s", describe(raw["pool"]))
		}
		return src, nil, nil
	}
	order = poolOrder(md)
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	return src, pools, order
}
