package fpm

// This file loads a configuration file (SPEC §3): strict decoding with a
// position for every error, defaults, relative paths and validation. Every
// problem is collected, so `gofpm check` reports all of them at once, each as
// FILE:LINE:COL: message (SPEC §8).

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/gofpm/gofpm/fpm/internal/oneline"
	"golang.org/x/sys/unix"
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
// valid configuration. Errs is sorted by position.
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
	l := &configLoader{file: path, opts: o}
	cfg := l.load(data, abs)
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i], l.errs[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, &ConfigError{Errs: l.errs}
	}
	return cfg, nil
}

// configLoader carries the state of one Load call.
type configLoader struct {
	file string
	opts LoadOptions
	keys map[string]cfgKeyPos // key path → position, from cfgFindKeys
	errs []PosError
	// broken holds the keys whose value could not be decoded; validation
	// says nothing more about them (their field holds a zero value).
	broken map[string]bool
	// pools is the number of entries in the "pool" table, tables or not.
	pools int
}

// cfgPath is a key path such as {"pool", "www", "listen"}; an element of an
// array is written "[N]" (N from 0), as in {"http", "route", "[1]", "pool"}.
type cfgPath []string

func (p cfgPath) add(k ...string) cfgPath {
	q := make(cfgPath, 0, len(p)+len(k))
	return append(append(q, p...), k...)
}

func (p cfgPath) id() string { return strings.Join(p, "\x00") }

// errAt records an error at the position of path, or of its nearest
// enclosing table when path itself is absent from the file, or at 1:1.
// Nothing is recorded for a key whose value could not be decoded.
func (l *configLoader) errAt(path cfgPath, format string, args ...any) {
	if l.broken[path.id()] {
		return
	}
	line, col := 1, 1
	for n := len(path); n > 0; n-- {
		if p, ok := l.keys[path[:n].id()]; ok {
			line, col = p.line, p.col
			break
		}
	}
	l.errs = append(l.errs, PosError{File: l.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// load does the work of Load; errors are collected in l.errs.
func (l *configLoader) load(data []byte, abs string) *Config {
	raw, md, ok := l.parse(data)
	if !ok {
		return nil
	}
	l.keys = cfgFindKeys(data)

	cfg := &Config{Path: abs, Dir: filepath.Dir(abs)}
	l.decodeTable(reflect.ValueOf(cfg).Elem(), raw, nil, "", "pool", "http")
	l.decodePools(cfg, raw["pool"], md)
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
func (l *configLoader) parse(data []byte) (raw map[string]any, md toml.MetaData, ok bool) {
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
		var perr toml.ParseError
		if errors.As(err, &perr) {
			pe.Msg = "invalid TOML: " + perr.Message
			pe.Line, pe.Col = max(perr.Position.Line, 1), max(perr.Position.Col, 1)
			// Position.Start (a byte offset into the text without its BOM) is
			// exact; Line and Col can be one line late or past the line's end.
			src := cfgStripBOM(data)
			if st := perr.Position.Start; perr.Position.Line > 0 && st >= 0 && st <= len(src) {
				pe.Line = 1 + bytes.Count(src[:st], []byte("\n"))
				pe.Col = st - bytes.LastIndexByte(src[:st], '\n')
			}
		}
		l.errs = append(l.errs, pe)
		return nil, md, false
	}
	return raw, md, true
}

// decodePools fills cfg.Pools and cfg.PoolOrder from the "pool" table.
func (l *configLoader) decodePools(cfg *Config, v any, md toml.MetaData) {
	cfg.Pools = map[string]*PoolConfig{}
	if v == nil {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		l.errAt(cfgPath{"pool"}, "pool: want [pool.NAME] tables, got %s", cfgDescribe(v))
		l.pools = 1
		return
	}
	l.pools = len(m)
	// Pools keep the order of their first appearance in the file.
	var order []string
	for _, k := range md.Keys() {
		if len(k) >= 2 && k[0] == "pool" && !slices.Contains(order, k[1]) {
			order = append(order, k[1])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	for _, name := range order {
		pm, ok := m[name].(map[string]any)
		if !ok {
			if _, present := m[name]; present {
				l.errAt(cfgPath{"pool", name}, "%s: want a [pool.NAME] table, got %s", cfgKeyString(cfgPath{"pool", name}), cfgDescribe(m[name]))
			}
			continue
		}
		pc := &PoolConfig{Name: name}
		l.decodeTable(reflect.ValueOf(pc).Elem(), pm, cfgPath{"pool", name}, fmt.Sprintf("pool %q: ", name))
		cfg.Pools[name] = pc
		cfg.PoolOrder = append(cfg.PoolOrder, name)
	}
}

// decodeHTTP fills cfg.HTTP from the "http" table and returns the keys set.
func (l *configLoader) decodeHTTP(cfg *Config, v any) map[string]bool {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		l.errAt(cfgPath{"http"}, "http: want a table, got %s", cfgDescribe(v))
		return nil
	}
	cfg.HTTP = &HTTPConfig{}
	l.decodeTable(reflect.ValueOf(cfg.HTTP).Elem(), m, cfgPath{"http"}, "http: ", "route")
	set := map[string]bool{}
	for k := range m {
		set[k] = true
	}
	rv, ok := m["route"]
	if !ok {
		return set
	}
	var routes []map[string]any
	switch r := rv.(type) {
	case []map[string]any:
		routes = r
	case []any:
		for i, e := range r {
			t, ok := e.(map[string]any)
			if !ok {
				l.errAt(cfgPath{"http", "route", "[" + strconv.Itoa(i) + "]"}, "http: route #%d: want a table, got %s", i+1, cfgDescribe(e))
				t = map[string]any{}
			}
			routes = append(routes, t)
		}
	default:
		l.errAt(cfgPath{"http", "route"}, "http: route: want [[http.route]] tables, got %s", cfgDescribe(rv))
	}
	for i, t := range routes {
		var r HTTPRoute
		l.decodeTable(reflect.ValueOf(&r).Elem(), t, cfgPath{"http", "route", "[" + strconv.Itoa(i) + "]"}, fmt.Sprintf("http: route #%d: ", i+1))
		cfg.HTTP.Routes = append(cfg.HTTP.Routes, r)
	}
	return set
}

// decodeTable stores the keys of m into the fields of the struct dst by their
// toml tags. Keys named in special are left to the caller; any other key
// without a field is an unknown key.
func (l *configLoader) decodeTable(dst reflect.Value, m map[string]any, path cfgPath, prefix string, special ...string) {
	t := dst.Type()
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if slices.Contains(special, k) {
			continue
		}
		kp := path.add(k)
		i, ok := fields[k]
		if t, isTable := m[k].(map[string]any); isTable && (!ok || dst.Field(i).Kind() != reflect.Map) {
			// php-fpm's dotted names ("pm.max_children", "ping.path")
			// become a TOML table; point at the underscore spelling.
			subs := slices.Sorted(maps.Keys(t))
			if slices.ContainsFunc(subs, func(sub string) bool { return slices.Contains(names, k+"_"+sub) }) {
				for _, sub := range subs {
					msg := fmt.Sprintf("unknown key %q", cfgKeyString(kp.add(sub)))
					if s := cfgSuggest(k+"_"+sub, names); s != "" {
						msg += fmt.Sprintf(" (did you mean %q?)", s)
					}
					l.errAt(kp.add(sub), "%s", msg)
				}
				l.markBroken(kp)
				continue
			}
		}
		if !ok {
			msg := fmt.Sprintf("unknown key %q", cfgKeyString(kp))
			if s := cfgSuggest(k, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			l.errAt(kp, "%s", msg)
			continue
		}
		if sub, msg := cfgAssign(dst.Field(i), m[k]); msg != "" {
			l.errAt(kp.add(sub...), "%s%s: %s", prefix, cfgKeyString(append(cfgPath{k}, sub...)), msg)
			l.markBroken(kp)
		}
	}
}

// markBroken notes that the value at path could not be decoded.
func (l *configLoader) markBroken(path cfgPath) {
	if l.broken == nil {
		l.broken = map[string]bool{}
	}
	l.broken[path.id()] = true
}

// cfgAssign stores the decoded TOML value v into dst. On a type mismatch it
// returns a message, and the sub-key it concerns for tables.
func cfgAssign(dst reflect.Value, v any) (sub []string, msg string) {
	switch p := dst.Addr().Interface().(type) {
	case *Duration:
		if err := p.UnmarshalTOML(v); err != nil {
			return nil, err.Error()
		}
	case *Size:
		if err := p.UnmarshalTOML(v); err != nil {
			return nil, err.Error()
		}
	case **Rlimit:
		r := new(Rlimit)
		if err := r.UnmarshalTOML(v); err != nil {
			return nil, err.Error()
		}
		*p = r
	case *string:
		s, ok := v.(string)
		if !ok {
			return nil, "want a string, got " + cfgDescribe(v)
		}
		*p = s
	case *int:
		n, ok := v.(int64)
		if !ok {
			return nil, "want an integer, got " + cfgDescribe(v)
		}
		if int64(int(n)) != n {
			return nil, fmt.Sprintf("%d is out of range", n)
		}
		*p = int(n)
	case *bool:
		b, ok := v.(bool)
		if !ok {
			return nil, "want true or false, got " + cfgDescribe(v)
		}
		*p = b
	case **bool:
		b, ok := v.(bool)
		if !ok {
			return nil, "want true or false, got " + cfgDescribe(v)
		}
		*p = &b
	case *[]string:
		arr, ok := v.([]any)
		if !ok {
			return nil, "want an array of strings, got " + cfgDescribe(v)
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return nil, "want an array of strings, got an array holding " + cfgDescribe(e)
			}
			out = append(out, s)
		}
		*p = out
	case *map[string]string:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "want a table of strings, got " + cfgDescribe(v)
		}
		out := make(map[string]string, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			s, ok := m[k].(string)
			if !ok {
				return []string{k}, "want a string, got " + cfgDescribe(m[k])
			}
			out[k] = s
		}
		*p = out
	default:
		return nil, fmt.Sprintf("cannot store a value of type %s", dst.Type())
	}
	return nil, ""
}

// cfgDescribe names the TOML type of v for "want X, got Y" messages.
func cfgDescribe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case time.Time:
		return "a date-time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

// UnmarshalTOML implements toml.Unmarshaler. It accepts a string in Go
// syntax ("10s", "1m30s", "500ms"), a string of digits or an integer meaning
// seconds, and php-fpm's day suffix ("1d"). Negative durations are refused.
func (d *Duration) UnmarshalTOML(v any) error {
	var secs int64
	switch x := v.(type) {
	case int64:
		secs = x
	case string:
		s := strings.TrimSpace(x)
		if n, ok := cfgDigits(s); ok {
			secs = n
			break
		}
		if n, ok := cfgDigits(strings.TrimSuffix(s, "d")); ok && strings.HasSuffix(s, "d") {
			if n > math.MaxInt64/int64(24*time.Hour) {
				return fmt.Errorf("duration %q is too long", x)
			}
			*d = Duration(time.Duration(n) * 24 * time.Hour)
			return nil
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (want \"10s\", \"500ms\" or a number of seconds)", x)
		}
		if dur < 0 {
			return fmt.Errorf("duration %q must not be negative", x)
		}
		*d = Duration(dur)
		return nil
	default:
		return fmt.Errorf("want a duration (\"10s\" or a number of seconds), got %s", cfgDescribe(v))
	}
	if secs < 0 {
		return fmt.Errorf("duration %d must not be negative", secs)
	}
	if secs > math.MaxInt64/int64(time.Second) {
		return fmt.Errorf("duration %d is too long", secs)
	}
	*d = Duration(time.Duration(secs) * time.Second)
	return nil
}

// cfgSizeUnits are the suffixes Size accepts. IEC units (KiB) and php.ini's
// one-letter shorthands (K, M, G, lower case too) are powers of 1024; SI
// units (KB, MB, GB) are powers of 1000.
var cfgSizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1 << 10, "k": 1 << 10, "KiB": 1 << 10,
	"M": 1 << 20, "m": 1 << 20, "MiB": 1 << 20,
	"G": 1 << 30, "g": 1 << 30, "GiB": 1 << 30,
	"T": 1 << 40, "t": 1 << 40, "TiB": 1 << 40,
	"KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
}

// UnmarshalTOML implements toml.Unmarshaler. It accepts an integer (bytes) or
// a string: digits, optional spaces, then a unit from cfgSizeUnits ("64MiB",
// "512KiB", "1GiB", "10MB", "128M", "1k", "4096"). Negative sizes are refused.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("size %d must not be negative", x)
		}
		*s = Size(x)
		return nil
	case string:
		t := strings.TrimSpace(x)
		i := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		n, ok := cfgDigits(t[:i])
		mult, known := cfgSizeUnits[strings.TrimSpace(t[i:])]
		if strings.HasPrefix(t, "-") {
			return fmt.Errorf("size %q must not be negative", x)
		}
		if !ok || !known {
			return fmt.Errorf("invalid size %q (want a number of bytes, or a number with KiB, MiB, GiB, KB, MB, GB, K, M or G)", x)
		}
		if n > math.MaxInt64/mult {
			return fmt.Errorf("size %q is too large", x)
		}
		*s = Size(n * mult)
		return nil
	}
	return fmt.Errorf("want a size (bytes, or a string like \"64MiB\"), got %s", cfgDescribe(v))
}

// UnmarshalTOML implements toml.Unmarshaler: an integer >= 0, -1 or the
// string "unlimited" (php-fpm's spelling; stored as -1).
func (r *Rlimit) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < -1 {
			return fmt.Errorf("%d must be -1 (unlimited) or more", x)
		}
		*r = Rlimit(x)
		return nil
	case string:
		if strings.EqualFold(strings.TrimSpace(x), "unlimited") {
			*r = -1
			return nil
		}
	}
	return fmt.Errorf("want an integer or \"unlimited\", got %s", cfgDescribe(v))
}

// cfgDigits parses a non-empty string of ASCII digits.
func cfgDigits(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Defaults (php-fpm's unless noted on the field in config.go).
const (
	defaultErrorLog              = "stderr"
	defaultLogLevel              = "notice"
	defaultProcessControlTimeout = Duration(10 * time.Second)
	defaultListenBacklog         = 511
	defaultListenMode            = "0660"
	defaultWorker                = "exec"
	defaultMaxSpawnRate          = 32
	defaultProcessIdleTimeout    = Duration(10 * time.Second)
	defaultPingResponse          = "pong"
	defaultAccessFormat          = `%R - %u %t "%m %r" %s`
	defaultWorkerConcurrency     = 1
	defaultGracefulSignal        = "SIGQUIT"
)

// setDefaults fills the global keys the file leaves out. set reports whether
// the file sets a key, so that an explicit zero is kept where it means
// something.
func (c *Config) setDefaults(set func(key string) bool) {
	if c.ErrorLog == "" {
		c.ErrorLog = defaultErrorLog
	}
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	switch c.LogLevel {
	case "":
		c.LogLevel = defaultLogLevel
	case "warn": // php-fpm's alias
		c.LogLevel = "warning"
	}
	if !set("process_control_timeout") {
		c.ProcessControlTimeout = defaultProcessControlTimeout
	}
}

// setDefaults fills the pool keys the file leaves out and normalises names
// (pm and the signal in canonical case). set reports whether the file sets a
// key.
func (p *PoolConfig) setDefaults(set func(key string) bool) {
	if !set("listen_backlog") {
		p.ListenBacklog = defaultListenBacklog
	}
	if p.ListenMode == "" {
		p.ListenMode = defaultListenMode
	}
	if p.Worker == "" {
		p.Worker = defaultWorker
	}
	p.PM = strings.ToLower(strings.TrimSpace(p.PM))
	if p.PM == "dynamic" && p.PMStartServers == 0 {
		// php-fpm: "pm.start_servers is not set. It's been set to N."
		p.PMStartServers = p.PMMinSpareServers + (p.PMMaxSpareServers-p.PMMinSpareServers)/2
	}
	if !set("pm_max_spawn_rate") {
		p.PMMaxSpawnRate = defaultMaxSpawnRate
	}
	if !set("pm_process_idle_timeout") {
		p.PMProcessIdleTimeout = defaultProcessIdleTimeout
	}
	if p.PingResponse == "" {
		p.PingResponse = defaultPingResponse
	}
	if p.AccessFormat == "" {
		p.AccessFormat = defaultAccessFormat
	}
	if !set("worker_concurrency") {
		p.WorkerConcurrency = defaultWorkerConcurrency
	}
	if p.WorkerGracefulSignal == "" {
		p.WorkerGracefulSignal = defaultGracefulSignal
	} else if n := cfgSignalName(p.WorkerGracefulSignal); unix.SignalNum(n) != 0 {
		p.WorkerGracefulSignal = n
	}
}

// setDefaults fills the [http] keys the file leaves out.
func (h *HTTPConfig) setDefaults(c *Config, set func(key string) bool) {
	if !set("index") {
		h.Index = []string{"index.php"}
	}
	if h.DefaultPool == "" && !set("default_pool") && len(c.PoolOrder) == 1 {
		h.DefaultPool = c.PoolOrder[0]
	}
	def := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&h.ReadHeaderTimeout, 10*time.Second)
	def(&h.IdleTimeout, 75*time.Second)
	def(&h.ConnectTimeout, 5*time.Second)
	def(&h.ReadTimeout, 60*time.Second)
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = 64 << 10
	}
	if h.MaxBodyBytes == 0 {
		h.MaxBodyBytes = 8 << 20
	}
}

// cfgSignalName turns "quit", "QUIT" or "sigquit" into "SIGQUIT".
func cfgSignalName(s string) string {
	n := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	return n
}

// isUnixAddr reports whether a listen value names a Unix socket: it contains
// a "/" or starts with "unix:". "www.sock" alone is not one; write
// "./www.sock" or "unix:www.sock".
func isUnixAddr(s string) bool {
	return strings.HasPrefix(s, "unix:") || strings.Contains(s, "/")
}

// resolvePaths makes the file's relative paths absolute against c.Dir and
// normalises listen addresses ("unix:" stripped, "9000" → ":9000").
func (c *Config) resolvePaths() {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(c.Dir, *p)
		}
	}
	listen := func(p *string) {
		if isUnixAddr(*p) {
			*p = strings.TrimPrefix(*p, "unix:")
			if *p != "" {
				abs(p)
				*p = filepath.Clean(*p)
			}
		} else if _, ok := cfgDigits(*p); ok {
			*p = ":" + *p
		}
	}
	abs(&c.Pid)
	if c.ErrorLog != "stderr" {
		abs(&c.ErrorLog)
	}
	for _, p := range c.Pools {
		listen(&p.Listen)
		listen(&p.PMStatusListen)
		abs(&p.Root)
		if p.Chroot == "" {
			abs(&p.Chdir)
		}
		if len(p.Command) > 0 && strings.Contains(p.Command[0], "/") {
			abs(&p.Command[0])
		}
		abs(&p.Slowlog)
		abs(&p.AccessLog)
	}
	if c.HTTP != nil {
		abs(&c.HTTP.Root)
		abs(&c.HTTP.TLSCert)
		abs(&c.HTTP.TLSKey)
	}
}

// validate checks the whole configuration; psets holds, per pool, the keys
// the file sets.
func (l *configLoader) validate(c *Config, psets map[string]map[string]bool) {
	switch c.LogLevel {
	case "debug", "notice", "warning", "error":
	default:
		l.errAt(cfgPath{"log_level"}, "log_level: unknown level %q (debug, notice, warning or error)", c.LogLevel)
	}
	if c.EmergencyRestartThreshold < 0 {
		l.errAt(cfgPath{"emergency_restart_threshold"}, "emergency_restart_threshold (%d) must not be negative", c.EmergencyRestartThreshold)
	} else if c.EmergencyRestartThreshold > 0 && c.EmergencyRestartInterval == 0 {
		l.errAt(cfgPath{"emergency_restart_threshold"}, "emergency_restart_interval must be set when emergency_restart_threshold is set")
	}
	if l.pools == 0 {
		l.errAt(cfgPath{"pool"}, "no pool has been defined (add a [pool.NAME] table)")
	}

	// Listen addresses in use, each with who uses it (php-fpm refuses two
	// pools on one address).
	used := map[string]string{}
	claim := func(addr string, path cfgPath, pre, what string) {
		if addr == "" {
			return
		}
		if other, ok := used[addr]; ok {
			l.errAt(path, "%s%s: address %q is already used by %s", pre, path[len(path)-1], addr, other)
			return
		}
		used[addr] = what
	}
	for _, name := range c.PoolOrder {
		p := c.Pools[name]
		l.validatePool(p, psets[name])
		pre := fmt.Sprintf("pool %q: ", name)
		if cfgListenOK(p.Listen, false) {
			claim(p.Listen, cfgPath{"pool", name, "listen"}, pre, fmt.Sprintf("pool %q", name))
		}
		if cfgListenOK(p.PMStatusListen, false) {
			claim(p.PMStatusListen, cfgPath{"pool", name, "pm_status_listen"}, pre, fmt.Sprintf("the status listener of pool %q", name))
		}
	}
	if c.HTTP != nil {
		l.validateHTTP(c)
		if cfgListenOK(c.HTTP.Listen, true) {
			claim(c.HTTP.Listen, cfgPath{"http", "listen"}, "http: ", "the HTTP front")
		}
	}
}

// cfgListenOK reports whether addr is a well-formed listen address that
// another listener could clash with (port 0 never clashes).
func cfgListenOK(addr string, front bool) bool {
	return addr != "" && cfgCheckListen(addr, front) == "" && !strings.HasSuffix(addr, ":0")
}

// cfgCheckListen checks a normalised listen address and returns what is
// wrong with it, or "". A pool listens on a unix path or a TCP port 1-65535
// (php-fpm); the HTTP front (front) on TCP only, where port 0 asks the
// kernel for a free port (tests, and the front logs the port it got).
func cfgCheckListen(addr string, front bool) string {
	unixOK, minPort := !front, int64(1)
	if front {
		minPort = 0
	}
	if unixOK && filepath.IsAbs(addr) {
		// sun_path holds 108 bytes with the terminating NUL.
		if len(addr) > 107 {
			return fmt.Sprintf("unix socket path %q is too long (%d bytes, the limit is 107)", addr, len(addr))
		}
		return ""
	}
	if unixOK && isUnixAddr(addr) {
		return fmt.Sprintf("invalid unix socket path %q", addr)
	}
	want := `"host:port"`
	if unixOK {
		want = `a unix socket path, "host:port" or "[ipv6]:port"`
	}
	host, port, err := cfgSplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("invalid address %q (want %s)", addr, want)
	}
	if n, ok := cfgDigits(port); !ok || n < minPort || n > 65535 {
		return fmt.Sprintf("invalid port value %q (%d-65535)", port, minPort)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && !cfgHostname(host) {
			return fmt.Sprintf("invalid host %q in %q", host, addr)
		}
	}
	return ""
}

// cfgSplitHostPort splits "host:port" or "[v6]:port" without the net
// package's leniency for unbracketed IPv6.
func cfgSplitHostPort(s string) (host, port string, err error) {
	bad := errors.New("bad address")
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 || !strings.HasPrefix(s[end+1:], ":") {
			return "", "", bad
		}
		return s[1:end], s[end+2:], nil
	}
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Contains(s[:i], ":") {
		return "", "", bad
	}
	return s[:i], s[i+1:], nil
}

// cfgHostname reports whether s looks like a DNS name.
func cfgHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// validatePool checks one pool; set holds the keys the file sets.
func (l *configLoader) validatePool(p *PoolConfig, set map[string]bool) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	at := func(key string) cfgPath { return cfgPath{"pool", p.Name, key} }
	header := cfgPath{"pool", p.Name}

	if !cfgPoolName(p.Name) {
		l.errAt(header, "%sinvalid pool name (use letters, digits, \"_\", \"-\" and \".\")", pre)
	}

	// listen and the socket settings. Like php-fpm, the unix-only settings
	// (owner, group, mode, ACLs) are ignored on TCP and listen_allowed_clients
	// on a unix socket, but their values must still be valid.
	switch {
	case !set["listen"] && p.Listen == "":
		l.errAt(header, "%sno listen address has been defined", pre)
	case p.Listen == "":
		l.errAt(at("listen"), "%slisten: the address is empty", pre)
	default:
		if msg := cfgCheckListen(p.Listen, false); msg != "" {
			l.errAt(at("listen"), "%slisten: %s", pre, msg)
		}
	}
	if p.ListenBacklog < -1 {
		l.errAt(at("listen_backlog"), "%slisten_backlog (%d) must be -1 (the system maximum) or more", pre, p.ListenBacklog)
	}
	if m, err := strconv.ParseUint(strings.TrimPrefix(p.ListenMode, "0o"), 8, 32); err != nil || m > 0o7777 {
		l.errAt(at("listen_mode"), "%slisten_mode: %q is not an octal mode such as \"0660\"", pre, p.ListenMode)
	}
	for _, c := range p.ListenAllowedClients {
		if a, err := netip.ParseAddr(c); err != nil || a.Zone() != "" { // exact addresses: no CIDR, no zone
			l.errAt(at("listen_allowed_clients"), "%slisten_allowed_clients: %q is not an IP address", pre, c)
		}
	}
	if p.ListenOwner != "" {
		if _, _, ok := cfgLookupUser(p.ListenOwner); !ok {
			l.errAt(at("listen_owner"), "%slisten_owner: unknown user %q", pre, p.ListenOwner)
		}
	}
	if p.ListenGroup != "" {
		if _, ok := cfgLookupGroup(p.ListenGroup); !ok {
			l.errAt(at("listen_group"), "%slisten_group: unknown group %q", pre, p.ListenGroup)
		}
	}
	for _, u := range p.ListenACLUsers {
		if _, _, ok := cfgLookupUser(u); !ok {
			l.errAt(at("listen_acl_users"), "%slisten_acl_users: unknown user %q", pre, u)
		}
	}
	for _, g := range p.ListenACLGroups {
		if _, ok := cfgLookupGroup(g); !ok {
			l.errAt(at("listen_acl_groups"), "%slisten_acl_groups: unknown group %q", pre, g)
		}
	}

	l.validateIdentity(p)

	// The worker program.
	switch p.Worker {
	case "exec":
		if len(p.Command) == 0 {
			if set["command"] {
				l.errAt(at("command"), "%scommand is empty (worker = \"exec\" needs the worker program)", pre)
			} else {
				l.errAt(header, "%scommand has not been defined (worker = \"exec\" needs the worker program)", pre)
			}
		}
	case "cgi":
	default:
		l.errAt(at("worker"), "%sworker: unknown worker %q (exec or cgi)", pre, p.Worker)
	}
	if len(p.Command) > 0 {
		switch {
		case p.Command[0] == "":
			l.errAt(at("command"), "%scommand: the program name is empty", pre)
		case !l.opts.SkipCommandCheck && p.Chroot == "":
			if _, err := exec.LookPath(p.Command[0]); err != nil {
				var what string
				switch {
				case errors.Is(err, exec.ErrDot):
					what = "is in the current directory; write it as a path (\"./NAME\")"
				case errors.Is(err, fs.ErrPermission):
					what = "is not executable"
				case strings.Contains(p.Command[0], "/"):
					what = "not found"
				default:
					what = "not found in $PATH"
				}
				l.errAt(at("command"), "%scommand: %q %s", pre, p.Command[0], what)
			}
		}
	}
	if p.Chroot != "" {
		if !filepath.IsAbs(p.Chroot) {
			l.errAt(at("chroot"), "%schroot: %q must be an absolute path", pre, p.Chroot)
		} else if !cfgIsDir(p.Chroot) {
			l.errAt(at("chroot"), "%schroot: %q is not a directory", pre, p.Chroot)
		} else if p.Worker == "cgi" {
			l.errAt(at("chroot"), "%schroot: the CGI bridge (worker = \"cgi\") cannot run inside a chroot", pre)
		} else if len(p.Command) > 0 && p.Command[0] != "" && !l.opts.SkipCommandCheck && l.opts.Euid == 0 {
			if _, err := lookPathIn(p.Chroot, p.Command[0]); err != nil {
				l.errAt(at("command"), "%scommand: %v", pre, err)
			}
		}
	}
	if p.Chdir != "" {
		switch inside := filepath.Join(p.Chroot, p.Chdir); {
		case p.Chroot == "":
			if !cfgIsDir(p.Chdir) {
				l.errAt(at("chdir"), "%schdir: %q is not a directory", pre, p.Chdir)
			}
		case !filepath.IsAbs(p.Chdir):
			l.errAt(at("chdir"), "%schdir: %q must be an absolute path inside chroot", pre, p.Chdir)
		case filepath.IsAbs(p.Chroot) && cfgIsDir(p.Chroot) && !cfgIsDir(inside):
			l.errAt(at("chdir"), "%schdir: %q is not a directory", pre, inside)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			l.errAt(at("env").add(k), "%senv: invalid variable name %q", pre, k)
		} else if p.Env[k] == "" {
			l.errAt(at("env").add(k), "%senv.%s is empty", pre, cfgKeyString(cfgPath{k}))
		} else if strings.Contains(p.Env[k], "\x00") {
			l.errAt(at("env").add(k), "%senv.%s holds a NUL byte", pre, cfgKeyString(cfgPath{k}))
		}
	}

	l.validatePM(p, set)

	// Status and ping pages.
	if p.PMStatusPath != "" {
		l.checkPagePath(p.PMStatusPath, p.PMStatusListen != "", at("pm_status_path"), pre+"pm_status_path")
	}
	if p.PingPath != "" {
		l.checkPagePath(p.PingPath, false, at("ping_path"), pre+"ping_path")
		if p.PingPath == p.PMStatusPath {
			l.errAt(at("ping_path"), "%sping_path %q is the same as pm_status_path", pre, p.PingPath)
		}
	}
	if p.PMStatusListen != "" {
		if msg := cfgCheckListen(p.PMStatusListen, false); msg != "" {
			l.errAt(at("pm_status_listen"), "%spm_status_listen: %s", pre, msg)
		}
		if p.PMStatusPath == "" {
			l.errAt(at("pm_status_listen"), "%spm_status_listen needs pm_status_path", pre)
		}
	}

	// Timeouts and logs.
	if p.RequestSlowlogTimeout > 0 {
		if p.Slowlog == "" {
			l.errAt(at("request_slowlog_timeout"), "%sslowlog must be specified for use with request_slowlog_timeout", pre)
		}
		if p.RequestTerminateTimeout > 0 && p.RequestSlowlogTimeout > p.RequestTerminateTimeout {
			l.errAt(at("request_slowlog_timeout"), "%srequest_slowlog_timeout (%s) can't be greater than request_terminate_timeout (%s)",
				pre, p.RequestSlowlogTimeout.D(), p.RequestTerminateTimeout.D())
		}
	}
	if msg := cfgCheckAccessFormat(p.AccessFormat); msg != "" {
		l.errAt(at("access_format"), "%saccess_format: %s", pre, msg)
	}

	// Limits and the worker protocol.
	if p.RlimitFiles < 0 {
		l.errAt(at("rlimit_files"), "%srlimit_files (%d) must not be negative", pre, p.RlimitFiles)
	} else if max := nrOpen(); p.RlimitFiles > 0 && max > 0 && int64(p.RlimitFiles) > max {
		// Not even root may go beyond the kernel's fs.nr_open: the worker
		// exec step would fail on every spawn.
		l.errAt(at("rlimit_files"), "%srlimit_files (%d) is above the kernel's limit fs.nr_open (%d)", pre, p.RlimitFiles, max)
	}
	if p.ProcessPriority < -19 || p.ProcessPriority > 20 {
		l.errAt(at("process_priority"), "%sprocess_priority (%d) must be between -19 and 20", pre, p.ProcessPriority)
	}
	for _, e := range p.SecurityLimitExtensions {
		if !strings.HasPrefix(e, ".") || len(e) < 2 {
			l.errAt(at("security_limit_extensions"), "%ssecurity_limit_extensions: %q must start with a \".\"", pre, e)
		}
	}
	if p.WorkerConcurrency < 1 {
		l.errAt(at("worker_concurrency"), "%sworker_concurrency must be a positive value", pre)
	}
	switch sig := cfgSignalName(p.WorkerGracefulSignal); {
	case unix.SignalNum(sig) == 0:
		l.errAt(at("worker_graceful_signal"), "%sworker_graceful_signal: unknown signal %q", pre, p.WorkerGracefulSignal)
	case sig == "SIGKILL" || sig == "SIGSTOP":
		l.errAt(at("worker_graceful_signal"), "%sworker_graceful_signal: %s cannot be caught, so it is not graceful", pre, sig)
	}
}

// validatePM checks pm and its numbers in php-fpm's order (fpm_conf.c).
func (l *configLoader) validatePM(p *PoolConfig, set map[string]bool) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	at := func(key string) cfgPath { return cfgPath{"pool", p.Name, key} }
	header := cfgPath{"pool", p.Name}

	switch p.PM {
	case "static", "dynamic", "ondemand":
	case "":
		if set["pm"] {
			l.errAt(at("pm"), "%sthe process manager is missing (static, dynamic or ondemand)", pre)
		} else {
			l.errAt(header, "%sthe process manager is missing (static, dynamic or ondemand)", pre)
		}
	default:
		l.errAt(at("pm"), "%spm: unknown process manager %q (static, dynamic or ondemand)", pre, p.PM)
	}
	childrenOK := p.PMMaxChildren >= 1
	switch {
	case !set["pm_max_children"]:
		l.errAt(header, "%spm_max_children has not been defined", pre)
	case !childrenOK:
		l.errAt(at("pm_max_children"), "%spm_max_children must be a positive value", pre)
	}
	if p.PM == "dynamic" {
		spareOK := true
		for _, k := range []struct {
			key string
			v   int
		}{{"pm_min_spare_servers", p.PMMinSpareServers}, {"pm_max_spare_servers", p.PMMaxSpareServers}} {
			switch {
			case !set[k.key]:
				l.errAt(header, "%s%s has not been defined (pm = \"dynamic\" needs it)", pre, k.key)
				spareOK = false
			case k.v <= 0:
				l.errAt(at(k.key), "%s%s (%d) must be a positive value", pre, k.key, k.v)
				spareOK = false
			}
		}
		switch {
		case !spareOK:
		case childrenOK && (p.PMMinSpareServers > p.PMMaxChildren || p.PMMaxSpareServers > p.PMMaxChildren):
			key := "pm_max_spare_servers"
			if p.PMMinSpareServers > p.PMMaxChildren {
				key = "pm_min_spare_servers"
			}
			l.errAt(at(key), "%spm_min_spare_servers (%d) and pm_max_spare_servers (%d) cannot be greater than pm_max_children (%d)",
				pre, p.PMMinSpareServers, p.PMMaxSpareServers, p.PMMaxChildren)
		case p.PMMaxSpareServers < p.PMMinSpareServers:
			l.errAt(at("pm_max_spare_servers"), "%spm_max_spare_servers (%d) must not be less than pm_min_spare_servers (%d)",
				pre, p.PMMaxSpareServers, p.PMMinSpareServers)
		case p.PMStartServers < p.PMMinSpareServers || p.PMStartServers > p.PMMaxSpareServers:
			l.errAt(at("pm_start_servers"), "%spm_start_servers (%d) must not be less than pm_min_spare_servers (%d) and not greater than pm_max_spare_servers (%d)",
				pre, p.PMStartServers, p.PMMinSpareServers, p.PMMaxSpareServers)
		}
	}
	if p.PMMaxSpawnRate < 1 {
		l.errAt(at("pm_max_spawn_rate"), "%spm_max_spawn_rate must be a positive value", pre)
	}
	if p.PMProcessIdleTimeout <= 0 {
		l.errAt(at("pm_process_idle_timeout"), "%spm_process_idle_timeout (%s) must be greater than 0s", pre, p.PMProcessIdleTimeout.D())
	}
	if p.PMMaxRequests < 0 {
		l.errAt(at("pm_max_requests"), "%spm_max_requests (%d) must not be negative", pre, p.PMMaxRequests)
	}
	if p.PMMaxRequestsJitter < 0 {
		l.errAt(at("pm_max_requests_jitter"), "%spm_max_requests_jitter (%d) must not be negative", pre, p.PMMaxRequestsJitter)
	}
}

// validateIdentity applies php-fpm's root rules: a root master needs a user
// per pool (unless -R) other than root; a non-root master cannot switch
// identity, and gofpm refuses the setting rather than ignore it.
func (l *configLoader) validateIdentity(p *PoolConfig) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	at := func(key string) cfgPath { return cfgPath{"pool", p.Name, key} }
	if l.opts.Euid != 0 {
		if p.User != "" {
			l.errAt(at("user"), "%suser: setting a user needs a root master", pre)
		}
		if p.Group != "" {
			l.errAt(at("group"), "%sgroup: setting a group needs a root master", pre)
		}
		if len(p.Groups) > 0 {
			l.errAt(at("groups"), "%sgroups: setting groups needs a root master", pre)
		}
		if p.Chroot != "" {
			l.errAt(at("chroot"), "%schroot: chroot needs a root master", pre)
		}
		l.validateUnprivileged(p)
		return
	}
	const notRoot = "please specify user and group other than root"
	switch {
	case p.User == "":
		if !l.opts.AllowRoot {
			l.errAt(cfgPath{"pool", p.Name}, "%suser has not been defined (a root master needs user = \"...\" or -R / --allow-to-run-as-root)", pre)
		}
	default:
		uid, gid, ok := cfgLookupUser(p.User)
		switch {
		case !ok:
			l.errAt(at("user"), "%suser: unknown user %q", pre, p.User)
		case uid == 0 && !l.opts.AllowRoot:
			l.errAt(at("user"), "%s%s", pre, notRoot)
		case p.Group == "" && gid == 0 && !l.opts.AllowRoot:
			// The group defaults to the user's primary group.
			l.errAt(at("user"), "%s%s", pre, notRoot)
		case p.Group == "" && gid < 0 && !l.opts.AllowRoot:
			// A number without a passwd entry has no primary group: php-fpm
			// then keeps gid 0.
			l.errAt(at("user"), "%s%s", pre, notRoot)
		}
	}
	if p.Group != "" {
		gid, ok := cfgLookupGroup(p.Group)
		switch {
		case !ok:
			l.errAt(at("group"), "%sgroup: unknown group %q", pre, p.Group)
		case gid == 0 && !l.opts.AllowRoot:
			l.errAt(at("group"), "%s%s", pre, notRoot)
		}
	}
	for _, g := range p.Groups {
		if _, ok := cfgLookupGroup(g); !ok {
			l.errAt(at("groups"), "%sgroups: unknown group %q", pre, g)
		}
	}
}

// validateUnprivileged refuses the limits a non-root master cannot give its
// workers: rlimits above its own hard limits, a nice value below its own.
func (l *configLoader) validateUnprivileged(p *PoolConfig) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	at := func(key string) cfgPath { return cfgPath{"pool", p.Name, key} }
	var lim unix.Rlimit
	if p.RlimitFiles > 0 && unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && uint64(p.RlimitFiles) > lim.Max {
		l.errAt(at("rlimit_files"), "%srlimit_files (%d) is above the hard limit (%d): raising it needs a root master", pre, p.RlimitFiles, lim.Max)
	}
	if c := p.RlimitCore; c != nil && unix.Getrlimit(unix.RLIMIT_CORE, &lim) == nil && lim.Max != unix.RLIM_INFINITY &&
		(*c < 0 || uint64(*c) > lim.Max) {
		v := strconv.FormatInt(int64(*c), 10)
		if *c < 0 {
			v = "unlimited"
		}
		l.errAt(at("rlimit_core"), "%srlimit_core (%s) is above the hard limit (%d): raising it needs a root master", pre, v, lim.Max)
	}
	if n := p.ProcessPriority; n < 0 {
		l.errAt(at("process_priority"), "%sprocess_priority (%d): a negative nice value needs a root master", pre, n)
	} else if prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0); n > 0 && err == nil && n < 20-prio {
		// The raw system call returns 20 - nice.
		l.errAt(at("process_priority"), "%sprocess_priority (%d) is below the master's nice value (%d): lowering it needs a root master", pre, n, 20-prio)
	}
}

// cfgLookupUser resolves a user name or number. A number needs no passwd
// entry (containers); its primary group is then unknown (-1).
func cfgLookupUser(s string) (uid, gid int, ok bool) {
	if n, isNum := cfgDigits(s); isNum {
		if n > math.MaxInt32 {
			return 0, 0, false
		}
		gid = -1
		if u, err := user.LookupId(s); err == nil {
			gid, _ = strconv.Atoi(u.Gid)
		}
		return int(n), gid, true
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, 0, false
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	return uid, gid, err1 == nil && err2 == nil
}

// cfgLookupGroup resolves a group name or number.
func cfgLookupGroup(s string) (gid int, ok bool) {
	if n, isNum := cfgDigits(s); isNum {
		return int(n), n <= math.MaxInt32
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, false
	}
	gid, err = strconv.Atoi(g.Gid)
	return gid, err == nil
}

func cfgIsDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// cfgPoolName reports whether name is usable in logs, process titles and
// metrics labels.
func cfgPoolName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// checkPagePath applies php-fpm's rules for pm.status_path and ping.path.
func (l *configLoader) checkPagePath(v string, shortOK bool, path cfgPath, what string) {
	switch {
	case !strings.HasPrefix(v, "/"):
		l.errAt(path, "%s %q must start with a \"/\"", what, v)
	case len(v) < 2 && !shortOK:
		l.errAt(path, "%s %q is not long enough", what, v)
	case strings.TrimLeft(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-.~") != "":
		l.errAt(path, "%s %q must contain only the following characters '[alphanum]/_-.~'", what, v)
	}
}

// cfgCheckAccessFormat checks an access_format against php-fpm's tokens
// (fpm_log.c) and returns what is wrong, or "".
func cfgCheckAccessFormat(f string) string {
	args := map[byte][]string{ // allowed %{arg}X values; nil = any non-empty
		'C': {"total", "user", "system"},
		'd': {"seconds", "milliseconds", "milli", "miliseconds", "mili", "microseconds", "micro"},
		'M': {"bytes", "kilobytes", "kilo", "megabytes", "mega"},
		'e': nil, 'o': nil, 't': nil, 'T': nil,
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		arg, hasArg := "", false
		if i < len(f) && f[i] == '{' {
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return fmt.Sprintf("missing \"}\" after %q", f[i-1:])
			}
			arg, hasArg = f[i+1:i+end], true
			i += end + 1
		}
		if i >= len(f) {
			return "the format ends in the middle of a token (write %% for a literal %)"
		}
		c := f[i]
		if !strings.ContainsRune("%CdefMlmnopPqQrRstTu", rune(c)) {
			r, _ := utf8.DecodeRuneInString(f[i:])
			return fmt.Sprintf("invalid token %%%c", r)
		}
		allowed, embrace := args[c]
		switch {
		case hasArg && !embrace:
			return fmt.Sprintf("embrace is not allowed for modifier %%%c", c)
		case (c == 'e' || c == 'o') && arg == "":
			return fmt.Sprintf("%%%c needs an argument, as in %%{NAME}%c", c, c)
		case hasArg && allowed != nil && !slices.Contains(allowed, arg):
			return fmt.Sprintf("%%{%s}%c: the argument must be one of %s", arg, c, strings.Join(allowed, ", "))
		}
	}
	return ""
}

// validateHTTP checks the [http] table.
func (l *configLoader) validateHTTP(c *Config) {
	h := c.HTTP
	switch {
	case h.Listen == "":
		l.errAt(cfgPath{"http", "listen"}, "http: no listen address has been defined")
	default:
		if msg := cfgCheckListen(h.Listen, true); msg != "" {
			l.errAt(cfgPath{"http", "listen"}, "http: listen: %s", msg)
		}
	}
	if h.DefaultPool != "" && c.Pools[h.DefaultPool] == nil {
		l.errAt(cfgPath{"http", "default_pool"}, "http: default_pool: unknown pool %q", h.DefaultPool)
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		key := "tls_cert"
		if h.TLSCert == "" {
			key = "tls_key"
		}
		l.errAt(cfgPath{"http", key}, "http: tls_cert and tls_key must be set together")
	}
	for _, ix := range h.Index {
		if ix == "" || strings.Contains(ix, "/") {
			l.errAt(cfgPath{"http", "index"}, "http: index: %q is not a file name", ix)
		}
	}
	if h.MaxHeaderBytes < 0 || h.MaxHeaderBytes > 0 && h.MaxHeaderBytes < 1024 {
		l.errAt(cfgPath{"http", "max_header_bytes"}, "http: max_header_bytes: %d is below 1024", h.MaxHeaderBytes)
	}
	if h.MaxBodyBytes < 0 {
		l.errAt(cfgPath{"http", "max_body_bytes"}, "http: max_body_bytes: %d is negative", h.MaxBodyBytes)
	}
	for i, tp := range h.TrustedProxies {
		if _, err := parseTrusted(tp); err != nil {
			l.errAt(cfgPath{"http", "trusted_proxies"}, "http: trusted_proxies[%d]: %q is not an IP address or CIDR prefix", i, tp)
		}
	}
	seen := map[string]int{}
	for i, r := range h.Routes {
		at := cfgPath{"http", "route", "[" + strconv.Itoa(i) + "]"}
		pre := fmt.Sprintf("http: route #%d: ", i+1)
		switch {
		case r.Prefix == "":
			l.errAt(at, "%sprefix has not been defined", pre)
		case !strings.HasPrefix(r.Prefix, "/"):
			l.errAt(at.add("prefix"), "%sprefix %q must start with a \"/\"", pre, r.Prefix)
		default:
			if j, dup := seen[r.Prefix]; dup {
				l.errAt(at.add("prefix"), "%sprefix %q is already routed by route #%d", pre, r.Prefix, j+1)
			} else {
				seen[r.Prefix] = i
			}
		}
		switch {
		case r.Pool == "":
			l.errAt(at, "%spool has not been defined", pre)
		case c.Pools[r.Pool] == nil:
			l.errAt(at.add("pool"), "%spool: unknown pool %q", pre, r.Pool)
		}
	}
}

// Summary returns one line per pool for `gofpm check`, in file order.
func (c *Config) Summary() []string {
	var out []string
	for _, name := range c.PoolOrder {
		p := c.Pools[name]
		var mode string
		switch p.PM {
		case "dynamic":
			mode = fmt.Sprintf("dynamic, %d max children, %d at start, %d-%d spare",
				p.PMMaxChildren, p.PMStartServers, p.PMMinSpareServers, p.PMMaxSpareServers)
		case "ondemand":
			mode = fmt.Sprintf("ondemand, %d max children, idle timeout %s", p.PMMaxChildren, p.PMProcessIdleTimeout.D())
		default:
			unit := "children"
			if p.PMMaxChildren == 1 {
				unit = "child"
			}
			mode = fmt.Sprintf("%s, %d %s", p.PM, p.PMMaxChildren, unit)
		}
		run := "worker cgi"
		if p.Worker != "cgi" {
			args := make([]string, len(p.Command))
			for i, a := range p.Command {
				if a == "" || strings.ContainsAny(a, " \t\n\"'\\") {
					a = strconv.Quote(a)
				}
				args[i] = a
			}
			run = "command " + strings.Join(args, " ")
		}
		out = append(out, fmt.Sprintf("pool %s: %s, listen %s, %s", name, mode, p.Listen, run))
	}
	return out
}

// cfgSuggest returns the known key closest to k (edit distance at most 2,
// and less than len(k)), or "".
func cfgSuggest(k string, known []string) string {
	best, bestD := "", 3
	lk := strings.ToLower(k)
	for _, c := range known {
		d := cfgEditDistance(lk, c)
		if d < bestD && d < len(k) {
			best, bestD = c, d
		}
	}
	return best
}

// cfgEditDistance is the Levenshtein distance between a and b in bytes.
func cfgEditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// cfgKeyString writes a key path the way TOML would: bare where possible,
// quoted otherwise; array indexes are left out.
func cfgKeyString(p cfgPath) string {
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

// cfgKeyPos is where a key (or table header) starts: 1-based line and byte
// column.
type cfgKeyPos struct{ line, col int }

// cfgFindKeys returns the position of every key and table header in a TOML
// document that BurntSushi/toml has already accepted (it keeps positions to
// itself). It follows [table] and [[array]] headers, dotted and quoted keys,
// inline tables and arrays (elements are "[N]" path components, as are the
// tables of an [[array]]). On text it cannot follow it stays safe and
// returns what it found.
func cfgFindKeys(src []byte) map[string]cfgKeyPos {
	s := &cfgScanner{src: cfgStripBOM(src), line: 1, col: 1, out: map[string]cfgKeyPos{}, explicit: map[string]bool{}, aot: map[string]int{}}
	s.document()
	return s.out
}

// cfgStripBOM drops a byte-order mark as BurntSushi/toml does, so that our
// lines and columns match its own.
func cfgStripBOM(src []byte) []byte {
	switch {
	case bytes.HasPrefix(src, []byte("\xef\xbb\xbf")):
		return src[3:]
	case bytes.HasPrefix(src, []byte("\xff\xfe")), bytes.HasPrefix(src, []byte("\xfe\xff")):
		return src[2:]
	}
	return src
}

type cfgScanner struct {
	src       []byte
	i         int
	line, col int
	out       map[string]cfgKeyPos
	explicit  map[string]bool // keys recorded by their own header or key = value
	aot       map[string]int  // [[array]] path → tables so far
}

func (s *cfgScanner) eof() bool { return s.i >= len(s.src) }

func (s *cfgScanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

func (s *cfgScanner) adv() {
	if s.eof() {
		return
	}
	if s.src[s.i] == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
	s.i++
}

func (s *cfgScanner) has(prefix string) bool {
	return bytes.HasPrefix(s.src[s.i:], []byte(prefix))
}

func (s *cfgScanner) here() cfgKeyPos { return cfgKeyPos{s.line, s.col} }

// record notes where path is; an explicit definition wins over an implicit
// one (a parent table named by a longer header or dotted key).
func (s *cfgScanner) record(path cfgPath, p cfgKeyPos, explicit bool) {
	id := path.id()
	if _, ok := s.out[id]; !ok || (explicit && !s.explicit[id]) {
		s.out[id] = p
		s.explicit[id] = explicit
	}
}

// recordKey notes path and, implicitly, its parents from base on.
func (s *cfgScanner) recordKey(path cfgPath, base int, p cfgKeyPos) {
	for n := base + 1; n < len(path); n++ {
		s.record(path[:n], p, false)
	}
	s.record(path, p, true)
}

func (s *cfgScanner) skipSpace() {
	for !s.eof() && (s.src[s.i] == ' ' || s.src[s.i] == '\t') {
		s.adv()
	}
}

// skipBlank skips spaces, newlines and comments.
func (s *cfgScanner) skipBlank() {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t', '\r', '\n':
			s.adv()
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine moves to the next newline (not past it).
func (s *cfgScanner) skipLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.adv()
	}
}

func (s *cfgScanner) document() {
	var table cfgPath
	for {
		s.skipBlank()
		if s.eof() {
			return
		}
		start, before := s.here(), s.i
		if s.peek(0) == '[' {
			table = s.header(start)
		} else {
			s.keyValue(table)
		}
		s.skipSpace()
		s.skipLine()
		if s.i == before {
			s.adv()
		}
	}
}

// header reads a [table] or [[array]] header and returns the table's path.
func (s *cfgScanner) header(start cfgKeyPos) cfgPath {
	s.adv()
	array := s.peek(0) == '['
	if array {
		s.adv()
	}
	keys := s.key()
	if len(keys) == 0 {
		return nil
	}
	// Components naming an [[array]] refer to its latest table.
	var path cfgPath
	for i, k := range keys {
		path = path.add(k)
		if n := s.aot[path.id()]; n > 0 && (i < len(keys)-1 || !array) {
			path = path.add("[" + strconv.Itoa(n-1) + "]")
		}
		if i < len(keys)-1 {
			s.record(path, start, false)
		}
	}
	if array {
		n := s.aot[path.id()]
		s.aot[path.id()] = n + 1
		s.record(path, start, true)
		path = path.add("[" + strconv.Itoa(n) + "]")
	}
	s.record(path, start, true)
	return path
}

// keyValue reads key = value under table.
func (s *cfgScanner) keyValue(table cfgPath) {
	start := s.here()
	keys := s.key()
	if len(keys) == 0 {
		return
	}
	path := table.add(keys...)
	s.recordKey(path, len(table), start)
	s.skipSpace()
	if s.peek(0) == '=' {
		s.adv()
	}
	s.skipSpace()
	s.value(path)
}

// key reads a possibly dotted, possibly quoted key.
func (s *cfgScanner) key() []string {
	var keys []string
	for {
		s.skipSpace()
		var k string
		switch c := s.peek(0); {
		case s.eof():
			return keys
		case c == '"':
			k = s.basicString()
		case c == '\'':
			k = s.literalString()
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-':
			st := s.i
			for !s.eof() {
				c := s.src[s.i]
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
					break
				}
				s.adv()
			}
			k = string(s.src[st:s.i])
		default:
			return keys
		}
		keys = append(keys, k)
		s.skipSpace()
		if s.peek(0) != '.' {
			return keys
		}
		s.adv()
	}
}

// basicString reads "..." and returns its value with escapes decoded.
func (s *cfgScanner) basicString() string {
	s.adv()
	var b strings.Builder
	for !s.eof() {
		c := s.src[s.i]
		switch {
		case c == '"':
			s.adv()
			return b.String()
		case c == '\n':
			return b.String()
		case c == '\\':
			s.adv()
			e := s.peek(0)
			s.adv()
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case 'e':
				b.WriteByte(0x1b)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				st := s.i
				for range n {
					s.adv()
				}
				if r, err := strconv.ParseUint(string(s.src[st:s.i]), 16, 32); err == nil {
					b.WriteRune(rune(r))
				}
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			s.adv()
		}
	}
	return b.String()
}

// literalString reads '...'.
func (s *cfgScanner) literalString() string {
	s.adv()
	st := s.i
	for !s.eof() && s.src[s.i] != '\'' && s.src[s.i] != '\n' {
		s.adv()
	}
	v := string(s.src[st:s.i])
	if s.peek(0) == '\'' {
		s.adv()
	}
	return v
}

// multiline skips a multi-line string; q is its three quote characters.
func (s *cfgScanner) multiline(q string) {
	for range 3 {
		s.adv()
	}
	for !s.eof() {
		if q == `"""` && s.src[s.i] == '\\' {
			s.adv()
			s.adv()
			continue
		}
		if s.has(q) {
			for range 3 {
				s.adv()
			}
			// Up to two more quotes belong to the string ("""a"""").
			for n := 0; n < 2 && s.peek(0) == q[0]; n++ {
				s.adv()
			}
			return
		}
		s.adv()
	}
}

// value skips one value, recording the keys of inline tables inside it.
func (s *cfgScanner) value(path cfgPath) {
	switch c := s.peek(0); {
	case s.has(`"""`):
		s.multiline(`"""`)
	case s.has(`'''`):
		s.multiline(`'''`)
	case c == '"':
		s.basicString()
	case c == '\'':
		s.literalString()
	case c == '[':
		s.adv()
		for n := 0; ; {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.peek(0) {
			case ']':
				s.adv()
				return
			case ',':
				s.adv()
				continue
			}
			before := s.i
			el := path.add("[" + strconv.Itoa(n) + "]")
			s.record(el, s.here(), true)
			s.value(el)
			n++
			if s.i == before {
				s.adv()
			}
		}
	case c == '{':
		s.adv()
		for {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.peek(0) {
			case '}':
				s.adv()
				return
			case ',':
				s.adv()
				continue
			}
			before := s.i
			s.keyValue(path)
			if s.i == before {
				s.adv()
			}
		}
	default:
		for !s.eof() && !strings.ContainsRune(",]}\n#", rune(s.src[s.i])) {
			s.adv()
		}
	}
}

// nrOpen is the kernel's ceiling for RLIMIT_NOFILE (fs.nr_open); 0 when
// unknown.
func nrOpen() int64 {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}
