package config

// FuzzLoad feeds arbitrary files to Load: it must never panic, and every
// error must be one FILE:LINE:COL: message line (SPEC §8). It also checks the
// position finder against BurntSushi: every key the parser saw is found.

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/config/*.toml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	f.Add([]byte("[pool.www]\nlisten = \"127.0.0.1:9000\"\nenv = {\n  A = \"\",\n}\n"), true)
	f.Add([]byte("\ufeff[[pool.a]]\nx = '''\n'''\n[pool.a.b]\n"), true)
	f.Add([]byte("a.\"b\\u0041\".'c' = [[1], {d = 2}]\n"), false)
	line := regexp.MustCompile(`^[^:]+:\d+:\d+: .+$`)
	f.Fuzz(func(t *testing.T, data []byte, root bool) {
		path := filepath.Join(t.TempDir(), "gofpm.toml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o := LoadOptions{Euid: 1000}
		if root {
			o.Euid = 0
		}
		checkFinder(t, data)
		cfg, err := Load(path, o)
		if err == nil {
			if cfg == nil || len(cfg.PoolOrder) == 0 || len(cfg.Summary()) != len(cfg.PoolOrder) {
				t.Fatalf("valid config without pools: %+v", cfg)
			}
			return
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || len(ce.Errs) == 0 {
			t.Fatalf("error %T %v, want a non-empty *ConfigError", err, err)
		}
		for _, l := range strings.Split(err.Error(), "\n") {
			if !line.MatchString(l) {
				t.Errorf("error line %q is not FILE:LINE:COL: message", l)
			}
		}
		for i := 1; i < len(ce.Errs); i++ {
			if a, b := ce.Errs[i-1], ce.Errs[i]; a.Line > b.Line || a.Line == b.Line && a.Col > b.Col {
				t.Errorf("errors not sorted: %v before %v", a, b)
			}
		}
	})
}

// checkFinder checks that findKeys finds every key of a valid document.
func checkFinder(t *testing.T, data []byte) {
	var raw map[string]any
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return
	}
	found := map[string]bool{}
	for id := range findKeys(data) {
		var p keyPath
		for _, k := range strings.Split(id, "\x00") {
			if !strings.HasPrefix(k, "[") || !strings.HasSuffix(k, "]") {
				p = append(p, k)
			}
		}
		found[p.id()] = true
	}
	for _, k := range md.Keys() {
		if !found[keyPath(k).id()] {
			t.Errorf("key %q not found by findKeys", k.String())
		}
	}
}
