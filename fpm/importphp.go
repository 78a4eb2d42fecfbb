package fpm

// This file is `gofpm import-php-fpm` (SPEC §2): it reads php-fpm's ini
// configuration (php-fpm.conf with its include= globs, and pool files) the
// way php-fpm 8.2 reads it, and writes the same configuration as gofpm TOML
// (SPEC §3). Every directive that has no meaning in gofpm, or whose meaning
// changes on the way, gets one warning "FILE:LINE: directive: what happened".
// PHP pools become php-cgi pools: php_value and its siblings turn into -d
// options of php-cgi.
//
// The ini reader copies php-fpm rather than a generic ini library, because
// php-fpm has its own habits (checked against php-fpm8.2 -tt):
//   - every line goes on its own through zend_parse_ini_string (normal mode),
//     so a value never spans lines; ';' starts a comment;
//   - yes/on/true become "1" and no/off/false/none/null "", but only as a
//     whole unquoted value; "${NAME}" reads the environment; constants such
//     as E_ALL are resolved; | & ^ ~ ! and parentheses compute integers;
//   - "double quotes" take \" \\ \$ escapes (other backslashes stay) and eat
//     the blanks around them; 'single quotes' are raw;
//   - "$pool" in a string value becomes the pool's name; directive names are
//     case-insensitive; a later scalar overrides an earlier one, but for
//     env[] and php_value[] the first definition of a key wins, and
//     php_admin_* beats php_value/php_flag;
//   - an unknown directive, a bad number, boolean or time is fatal.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ImportOptions control a translation.
type ImportOptions struct {
	// PHPCGI is the worker command for PHP pools; default
	// "/usr/bin/php-cgi8.2" if it exists, else "php-cgi".
	PHPCGI string
	// Prefix is php-fpm's -p/--prefix: relative include patterns and
	// relative paths (pid, error_log, listen, slowlog, access.log, chdir,
	// chroot, path-valued php_values) resolve against it, as in php-fpm.
	// Empty: a relative include pattern resolves against the folder of the
	// file that holds it, and other relative paths are kept as written
	// (gofpm resolves them against the TOML file's folder). Either way each
	// relative path gets a warning.
	Prefix string
}

// phpDefaultCGI is Debian's php-cgi for PHP 8.2, the version PHP-FPM.md
// describes.
const phpDefaultCGI = "/usr/bin/php-cgi8.2"

// phpMaxIncludeDepth is php-fpm's limit on nested files (the main file
// counts): "failed to include more than 5 files recursively".
const phpMaxIncludeDepth = 5

// ImportPHPFPM reads php-fpm ini files (a global file with [global] and
// include= globs, and/or pool files) and returns gofpm TOML text plus one
// warning per directive that has no meaning in gofpm or was changed (each
// warning: "FILE:LINE: directive: what happened", e.g.
// php_admin_value[memory_limit] → passed to php-cgi as -d memory_limit=...
// in command, or dropped with a reason). Files are read in order; a file
// already read (named twice, or also included) is skipped. Errors (an
// unreadable file, bad ini syntax, a directive or value php-fpm itself
// refuses) name FILE:LINE.
func ImportPHPFPM(files []string, o ImportOptions) (toml []byte, warnings []string, err error) {
	if len(files) == 0 {
		return nil, nil, errors.New("no php-fpm configuration file given")
	}
	imp := &phpImporter{o: o, seen: map[string]string{}, warnIdx: map[string]*phpWarn{}}
	if imp.o.PHPCGI == "" {
		imp.o.PHPCGI = "php-cgi"
		if fi, err := os.Stat(phpDefaultCGI); err == nil && !fi.IsDir() {
			imp.o.PHPCGI = phpDefaultCGI
		}
	}
	if o.Prefix != "" {
		abs, err := filepath.Abs(o.Prefix)
		if err != nil {
			return nil, nil, fmt.Errorf("prefix %q: %w", o.Prefix, err)
		}
		imp.prefix = abs
	}
	imp.g.vals = map[string]string{}
	imp.g.paths = map[string]phpStrAt{}
	for _, f := range files {
		if err := imp.readTop(f); err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
				err = errors.New(cfgOneLine(msg)) // a name may hold a "\r"
			}
			return nil, nil, err
		}
	}
	if len(imp.pools) == 0 {
		return nil, nil, fmt.Errorf("%s: no pool defined: at least one pool section (such as [www]) is needed", strings.Join(files, ", "))
	}
	if err := imp.finish(); err != nil {
		return nil, nil, err
	}
	return imp.render(), imp.warningLines(), nil
}

// phpLoc is where a directive is: the file as named by the user or by the
// include glob, its index in phpImporter.sources, and the 1-based line.
type phpLoc struct {
	file string
	idx  int
	line int
}

func (l phpLoc) String() string { return fmt.Sprintf("%s:%d", l.file, l.line) }

// phpStrAt is a string directive and where it was set.
type phpStrAt struct {
	s  string
	at phpLoc
	d  string // the directive as written, e.g. "slowlog"
}

// phpTable holds translated keys: vals are TOML literals by gofpm key;
// paths are path values resolved in finish (a pool's prefix may come after
// them).
type phpTable struct {
	vals  map[string]string
	paths map[string]phpStrAt
}

type phpPool struct {
	phpTable
	name string // the php-fpm name, as first written (what $pool becomes)
	key  string // the gofpm name
	at   phpLoc // its first section header

	prefix       phpStrAt
	listen       phpStrAt
	statusListen phpStrAt
	env          []phpEnv
	ini          []*phpIni
	limitExt     bool // security.limit_extensions is set
}

type phpEnv struct {
	key, val string
	at       phpLoc
	d        string
}

// phpIni is one php_value, php_flag, php_admin_value or php_admin_flag.
type phpIni struct {
	key   string
	val   string // the value php-fpm applies ("1"/"0" for flags)
	raw   string // the source text, usable as is by php-cgi when rawOK
	rawOK bool
	admin bool
	flag  bool
	kind  string // php_value, php_flag, php_admin_value or php_admin_flag
	at    phpLoc
	d     string
}

type phpGlobal struct {
	phpTable
	ert         *phpIntAt // emergency_restart_threshold
	eriSecs     int64     // emergency_restart_interval
	pctSet      bool      // process_control_timeout
	rlimitFiles *phpIntAt
	rlimitCore  *phpIntAt
}

type phpIntAt struct {
	n  int
	at phpLoc
	d  string
}

type phpWarn struct {
	at    phpLoc
	seq   int
	d     string
	parts []string
}

type phpSource struct{ path, from string }

type phpImporter struct {
	o       ImportOptions
	prefix  string            // absolute o.Prefix, or ""
	sources []phpSource       // every file read, in order
	seen    map[string]string // absolute path read → "included from FILE:LINE", or "" when named by the user
	cur     *phpPool          // the current section; nil is [global]
	pools   []*phpPool
	g       phpGlobal
	warns   []*phpWarn
	warnIdx map[string]*phpWarn
}

// warn adds a warning for the directive d at at; several notes on one
// directive become one warning, joined with "; ".
func (imp *phpImporter) warn(at phpLoc, d, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	k := fmt.Sprintf("%d\x00%d\x00%s", at.idx, at.line, d)
	if w := imp.warnIdx[k]; w != nil {
		w.parts = append(w.parts, msg)
		return
	}
	w := &phpWarn{at: at, seq: len(imp.warns), d: d, parts: []string{msg}}
	imp.warns = append(imp.warns, w)
	imp.warnIdx[k] = w
}

// warningLines returns the warnings in file order, then line order.
func (imp *phpImporter) warningLines() []string {
	ws := append([]*phpWarn(nil), imp.warns...)
	sort.SliceStable(ws, func(i, j int) bool {
		a, b := ws[i], ws[j]
		if a.at.idx != b.at.idx {
			return a.at.idx < b.at.idx
		}
		if a.at.line != b.at.line {
			return a.at.line < b.at.line
		}
		return a.seq < b.seq
	})
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if w.d == "" {
			out = append(out, cfgOneLine(fmt.Sprintf("%s: %s", w.at.file, strings.Join(w.parts, "; "))))
			continue
		}
		out = append(out, cfgOneLine(fmt.Sprintf("%s: %s: %s", w.at, w.d, strings.Join(w.parts, "; "))))
	}
	return out
}

// readTop reads one file named by the user. Like php-fpm with its main
// file, it starts in [global]. A file already read is skipped.
func (imp *phpImporter) readTop(path string) error {
	if abs, err := filepath.Abs(path); err == nil {
		if from, ok := imp.seen[filepath.Clean(abs)]; ok {
			note := "skipped: already read"
			if from != "" {
				note += " (" + from + ")"
			}
			imp.warn(phpLoc{file: path, idx: len(imp.sources)}, "", "%s", note)
			return nil
		}
	}
	imp.cur = nil
	return imp.readFile(path, 0, "")
}

// readFile reads one configuration file line by line, as php-fpm does.
func (imp *phpImporter) readFile(path string, depth int, from string) error {
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
	imp.sources = append(imp.sources, phpSource{path: path, from: from})
	if abs, err := filepath.Abs(path); err == nil {
		if _, ok := imp.seen[filepath.Clean(abs)]; !ok {
			imp.seen[filepath.Clean(abs)] = from
		}
	}
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		at := phpLoc{file: path, idx: idx, line: n + 1}
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
func (imp *phpImporter) apply(st iniStmt, at phpLoc, depth int) error {
	d := st.name
	switch st.kind {
	case iniSection:
		d = "[" + st.name + "]"
	case iniArray:
		d = st.name + "[" + st.offset + "]"
	}
	for _, s := range []string{st.name, st.offset, st.val.s, st.val.raw} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%s: %s: not valid UTF-8 (TOML needs UTF-8)", at, cfgOneLine(strings.ToValidUTF8(d, "\uFFFD")))
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
func (imp *phpImporter) section(name string, at phpLoc, d string) error {
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
	key := phpPoolKey(name)
	if key != name {
		imp.warn(at, d, "pool renamed %q (gofpm pool names use letters, digits, \"_\", \"-\" and \".\")", key)
	}
	for _, p := range imp.pools {
		if p.key == key {
			return fmt.Errorf("%s: %s: becomes pool %q, like [%s] (%s)", at, d, key, p.name, p.at)
		}
	}
	p := &phpPool{name: name, key: key, at: at}
	p.vals = map[string]string{}
	p.paths = map[string]phpStrAt{}
	imp.pools = append(imp.pools, p)
	imp.cur = p
	return nil
}

// phpPoolKey turns a php-fpm pool name into a gofpm one.
func phpPoolKey(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, name)
}

// include reads the files matching a glob pattern, in glob(3) order.
func (imp *phpImporter) include(pat string, at phpLoc, depth int) error {
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
		if depth+1 >= phpMaxIncludeDepth {
			return fmt.Errorf("%s: include: failed to include more than %d files recursively", at, phpMaxIncludeDepth)
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
func (imp *phpImporter) poolName(s string, at phpLoc, d string) (string, error) {
	if !strings.Contains(s, "$pool") {
		return s, nil
	}
	if imp.cur == nil {
		return "", fmt.Errorf("%s: %s: can't use '$pool' when the pool is not defined", at, d)
	}
	return strings.ReplaceAll(s, "$pool", imp.cur.name), nil
}

// global handles a [global] directive.
func (imp *phpImporter) global(st iniStmt, at phpLoc, d string) error {
	g := &imp.g
	v := st.val.s
	bad := func(msg string) error { return fmt.Errorf("%s: %s: %s", at, d, msg) }
	str := func() (string, error) { return imp.poolName(v, at, d) }
	switch name := strings.ToLower(st.name); name {
	case "pid":
		s, err := str()
		if err != nil {
			return err
		}
		g.paths["pid"] = phpStrAt{s, at, d}
	case "error_log":
		s, err := str()
		if err != nil {
			return err
		}
		if strings.EqualFold(s, "syslog") {
			imp.warn(at, d, "dropped: gofpm cannot log to syslog; it logs to stderr (the journal under systemd)")
			delete(g.paths, "error_log")
			return nil
		}
		g.paths["error_log"] = phpStrAt{s, at, d}
	case "syslog.ident", "events.mechanism":
		if _, err := str(); err != nil {
			return err
		}
		if name == "events.mechanism" {
			imp.warn(at, d, "dropped: the Go runtime chooses the event mechanism")
		} else {
			imp.warn(at, d, "dropped: gofpm does not log to syslog")
		}
	case "syslog.facility":
		if !phpSyslogFacility(v) {
			return bad(fmt.Sprintf("invalid value %q", v))
		}
		imp.warn(at, d, "dropped: gofpm does not log to syslog")
	case "log_buffering", "daemonize":
		if _, err := phpBool(v); err != nil {
			return bad(err.Error())
		}
		if name == "daemonize" {
			imp.warn(at, d, "dropped: gofpm always runs in the foreground (use systemd or a container)")
		} else {
			imp.warn(at, d, "dropped: no such setting in gofpm")
		}
	case "log_level":
		switch l := strings.ToLower(v); l {
		case "debug", "notice", "warning", "error":
			g.vals["log_level"] = phpTOMLString(l)
		case "warn":
			g.vals["log_level"] = phpTOMLString("warning")
		case "alert":
			g.vals["log_level"] = phpTOMLString("error")
			imp.warn(at, d, "alert becomes error (gofpm has no alert level)")
		default:
			return bad(fmt.Sprintf("invalid value %q (alert, error, warning, notice or debug)", v))
		}
	case "log_limit", "process.max", "process.priority":
		if _, err := phpInt(v); err != nil {
			return bad(err.Error())
		}
		switch name {
		case "process.max":
			imp.warn(at, d, "dropped: gofpm has no cap across pools (pm_max_children caps each pool)")
		case "process.priority":
			imp.warn(at, d, "dropped: gofpm does not renice its master (pools have process_priority)")
		default:
			imp.warn(at, d, "dropped: no such setting in gofpm")
		}
	case "emergency_restart_threshold":
		n, err := phpInt(v)
		if err != nil {
			return bad(err.Error())
		}
		g.ert = &phpIntAt{n, at, d}
		g.vals["emergency_restart_threshold"] = strconv.Itoa(n)
	case "emergency_restart_interval", "process_control_timeout", "systemd_interval":
		secs, lit, err := phpTime(v)
		if err != nil {
			return bad(err.Error())
		}
		switch name {
		case "systemd_interval":
			imp.warn(at, d, "dropped: gofpm sends no systemd status heartbeats")
		case "emergency_restart_interval":
			g.eriSecs = secs
			g.vals[name] = lit
		default:
			g.pctSet = true
			g.vals[name] = lit
		}
	case "rlimit_files":
		n, err := phpInt(v)
		if err != nil {
			return bad(err.Error())
		}
		g.rlimitFiles = &phpIntAt{n, at, d}
	case "rlimit_core":
		n, err := phpRlimitCore(v)
		if err != nil {
			return bad(err.Error())
		}
		g.rlimitCore = &phpIntAt{n, at, d}
	default:
		return fmt.Errorf("%s: unknown entry '%s'", at, st.name)
	}
	return nil
}

// phpDropped are pool directives php-fpm knows and gofpm has no use for,
// with the reason and the kind of value php-fpm checks.
var phpDropped = map[string]struct{ kind, why string }{
	"listen.setfib":                            {"int", "FreeBSD routing tables (SO_SETFIB) are not supported"},
	"process.dumpable":                         {"bool", "no such setting in gofpm"},
	"request_slowlog_trace_depth":              {"int", "gofpm cannot take a PHP backtrace of php-cgi"},
	"request_terminate_timeout_track_finished": {"bool", "no such setting in gofpm"},
	"apparmor_hat":                             {"string", "no such setting in gofpm"},
}

// poolEntry handles a scalar directive in a pool section.
func (imp *phpImporter) poolEntry(st iniStmt, at phpLoc, d string) error {
	p := imp.cur
	v := st.val.s
	name := strings.ToLower(st.name)
	key := strings.ReplaceAll(name, ".", "_")
	bad := func(msg string) error { return fmt.Errorf("%s: %s: %s", at, d, msg) }
	str := func() (string, error) { return imp.poolName(v, at, d) }
	if dr, ok := phpDropped[name]; ok {
		switch dr.kind {
		case "int":
			if _, err := phpInt(v); err != nil {
				return bad(err.Error())
			}
		case "bool":
			if _, err := phpBool(v); err != nil {
				return bad(err.Error())
			}
		}
		imp.warn(at, d, "dropped: %s", dr.why)
		return nil
	}
	switch name {
	case "prefix":
		s, err := str()
		if err != nil {
			return err
		}
		p.prefix = phpStrAt{s, at, d}
	case "user", "group", "listen.owner", "listen.group", "listen.mode",
		"pm.status_path", "ping.path", "ping.response", "access.format":
		s, err := str()
		if err != nil {
			return err
		}
		p.setStr(key, s)
	case "listen", "pm.status_listen":
		s, err := str()
		if err != nil {
			return err
		}
		if name == "listen" {
			p.listen = phpStrAt{s, at, d}
		} else {
			p.statusListen = phpStrAt{s, at, d}
		}
	case "access.log", "slowlog", "chdir", "chroot":
		s, err := str()
		if err != nil {
			return err
		}
		p.paths[key] = phpStrAt{s, at, d}
		switch {
		case s == "":
		case name == "slowlog":
			imp.warn(at, d, "kept; for php-cgi workers a slow request is logged without a PHP backtrace")
		case name == "chroot":
			imp.warn(at, d, "kept; php-cgi (command) and its libraries must exist inside the chroot")
		}
	case "listen.backlog", "process.priority", "pm.max_children", "pm.start_servers",
		"pm.min_spare_servers", "pm.max_spare_servers", "pm.max_spawn_rate", "pm.max_requests", "rlimit_files":
		n, err := phpInt(v)
		if err != nil {
			return bad(err.Error())
		}
		p.vals[key] = strconv.Itoa(n)
	case "rlimit_core":
		n, err := phpRlimitCore(v)
		if err != nil {
			return bad(err.Error())
		}
		if n == 0 {
			// php-fpm's 0 leaves the limit alone; gofpm's 0 means no core files.
			imp.warn(at, d, "dropped: in php-fpm 0 keeps the inherited limit (in gofpm, rlimit_core = 0 means no core files)")
			break
		}
		p.vals[key] = strconv.Itoa(n)
	case "pm.process_idle_timeout", "request_slowlog_timeout", "request_terminate_timeout":
		_, lit, err := phpTime(v)
		if err != nil {
			return bad(err.Error())
		}
		p.vals[key] = lit
	case "catch_workers_output", "decorate_workers_output", "clear_env":
		b, err := phpBool(v)
		if err != nil {
			return bad(err.Error())
		}
		p.vals[key] = strconv.FormatBool(b)
	case "pm":
		switch l := strings.ToLower(v); l {
		case "static", "dynamic", "ondemand":
			p.vals[key] = phpTOMLString(l)
		default:
			return bad(fmt.Sprintf("invalid process manager %q (static, dynamic or ondemand)", v))
		}
	case "listen.acl_users", "listen.acl_groups":
		s, err := str()
		if err != nil {
			return err
		}
		var list []string
		for _, e := range strings.Split(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				list = append(list, e)
			}
		}
		if len(list) == 0 {
			delete(p.vals, key)
		} else {
			p.vals[key] = phpTOMLArray(list)
		}
	case "listen.allowed_clients":
		s, err := str()
		if err != nil {
			return err
		}
		imp.allowedClients(p, s, at, d)
	case "security.limit_extensions":
		s, err := str()
		if err != nil {
			return err
		}
		list := []string{}
		var notes []string
		for _, e := range strings.Fields(s) {
			switch {
			case e == ".":
				notes = append(notes, `"." dropped (it names no extension)`)
				continue
			case !strings.HasPrefix(e, "."):
				notes = append(notes, fmt.Sprintf("%q becomes %q", e, "."+e))
				e = "." + e
			}
			list = append(list, e)
		}
		p.vals[key] = phpTOMLArray(list)
		p.limitExt = true
		imp.warn(at, d, "kept as security_limit_extensions, but gofpm checks it only for worker = \"cgi\" pools: php-cgi runs any script the web server names")
		for _, n := range notes {
			imp.warn(at, d, "%s", n)
		}
	default:
		return fmt.Errorf("%s: unknown entry '%s'", at, st.name)
	}
	return nil
}

// setStr stores a string key; an empty value means "not set", as in php-fpm.
func (t *phpTable) setStr(key, s string) {
	if s == "" {
		delete(t.vals, key)
		return
	}
	t.vals[key] = phpTOMLString(s)
}

// allowedClients translates listen.allowed_clients. php-fpm takes every
// comma-separated entry as is: one that inet_pton refuses (a name, a CIDR
// range, blanks around it) is logged and ignored, and when none is valid
// every connection is refused.
func (imp *phpImporter) allowedClients(p *phpPool, s string, at phpLoc, d string) {
	const key = "listen_allowed_clients"
	var ok, all []string
	for _, e := range strings.Split(s, ",") {
		t := strings.TrimSpace(e)
		if t == "" {
			continue
		}
		all = append(all, t)
		if _, err := netip.ParseAddr(t); err != nil {
			imp.warn(at, d, "%q dropped: not an IP address (php-fpm ignores it too)", t)
			continue
		}
		if t != e {
			imp.warn(at, d, "%q kept without its blanks (php-fpm ignores an entry with blanks)", t)
		}
		ok = append(ok, t)
	}
	switch {
	case len(all) == 0:
		delete(p.vals, key)
	case len(ok) == 0:
		p.vals[key] = phpTOMLArray(all)
		imp.warn(at, d, "no valid address, so php-fpm refuses every connection; the entries are kept so that gofpm check reports them")
	default:
		p.vals[key] = phpTOMLArray(ok)
	}
}

// array handles name[key] = value.
func (imp *phpImporter) array(st iniStmt, at phpLoc, d string) error {
	if st.offset == "" && st.name != "access.suppress_path" {
		return fmt.Errorf("%s: %s: you must provide a key for field '%s'", at, d, st.name)
	}
	if imp.cur == nil {
		return fmt.Errorf("%s: %s: arrays are not allowed in the global section", at, d)
	}
	p := imp.cur
	switch st.name {
	case "access.suppress_path":
		imp.warn(at, d, "dropped: no such setting in gofpm")
	case "env":
		if st.val.s == "" {
			return fmt.Errorf("%s: %s: empty value", at, d)
		}
		val, err := imp.poolName(st.val.s, at, d)
		if err != nil {
			return err
		}
		if v := st.val.onlyVar; v != "" {
			val = "$" + v
			imp.warn(at, d, "${%s} becomes %q: gofpm reads %s from its own environment when it starts", v, val, v)
		}
		for _, e := range p.env {
			if e.key == st.offset {
				imp.warn(at, d, "dropped: php-fpm keeps the first %s (%s)", e.d, e.at)
				return nil
			}
		}
		if strings.Contains(st.offset, "=") {
			imp.warn(at, d, "dropped: a variable name cannot hold \"=\"")
			return nil
		}
		p.env = append(p.env, phpEnv{key: st.offset, val: val, at: at, d: d})
	case "php_value", "php_flag", "php_admin_value", "php_admin_flag":
		e := &phpIni{key: st.offset, admin: strings.HasPrefix(st.name, "php_admin_"), flag: strings.HasSuffix(st.name, "_flag"),
			kind: st.name, at: at, d: d, raw: st.val.raw}
		if e.flag {
			b, err := phpBool(st.val.s)
			if err != nil {
				return fmt.Errorf("%s: %s: %v", at, d, err)
			}
			e.val = "0"
			if b {
				e.val = "1"
			}
		} else {
			val, err := imp.poolName(st.val.s, at, d)
			if err != nil {
				return err
			}
			e.val = val
			r := st.val.raw
			e.rawOK = len(st.val.vars) == 0 && !strings.Contains(r, "$pool") && r != "" &&
				(iniIsAlnum(r[0]) || r[0] == '"' || r[0] == '\'')
		}
		if strings.Contains(e.key, "=") {
			imp.warn(at, d, "dropped: php-cgi -d cannot pass a key holding \"=\"")
			return nil
		}
		p.ini = append(p.ini, e)
	default:
		return fmt.Errorf("%s: unknown directive '%s'", at, st.name)
	}
	return nil
}

// phpIniPaths are the php.ini keys whose relative values php-fpm resolves
// against the prefix (FPM_PHP_INI_TO_EXPAND), unless the pool is chrooted.
var phpIniPaths = []string{
	"error_log", "extension_dir", "mime_magic.magicfile", "sendmail_path", "session.cookie_path",
	"session_pgsql.sem_file_name", "soap.wsdl_cache_dir", "uploadprogress.file.filename_template",
	"xdebug.output_dir", "xdebug.profiler_output_dir", "xdebug.trace_output_dir", "xmms.path",
	"axis2.client_home", "blenc.key_file", "coin_acceptor.device",
}

// finish resolves what depends on the whole configuration: relative paths
// (a pool's prefix may come after them), listen addresses, the php-cgi
// command, and the global settings that gofpm keeps per pool.
func (imp *phpImporter) finish() error {
	g := &imp.g
	for _, k := range []string{"pid", "error_log"} {
		a, ok := g.paths[k]
		if !ok || a.s == "" {
			continue
		}
		s := a.s
		if !filepath.IsAbs(s) {
			if imp.prefix != "" {
				imp.warn(a.at, a.d, "relative path %q resolved against the prefix %s", s, imp.prefix)
				s = filepath.Join(imp.prefix, s)
			} else {
				imp.warn(a.at, a.d, "relative path %q kept: php-fpm resolves it against its localstatedir (Debian: /var) or -p, gofpm against the folder of the TOML file", s)
			}
		}
		g.vals[k] = phpTOMLString(s)
	}
	if g.ert != nil && g.ert.n != 0 && g.eriSecs == 0 {
		delete(g.vals, "emergency_restart_threshold")
		imp.warn(g.ert.at, g.ert.d, "dropped: php-fpm ignores it without emergency_restart_interval (gofpm would refuse it)")
	}

	for _, p := range imp.pools {
		if err := imp.finishPool(p); err != nil {
			return err
		}
	}

	for _, r := range []struct {
		v   *phpIntAt
		key string
	}{{g.rlimitFiles, "rlimit_files"}, {g.rlimitCore, "rlimit_core"}} {
		if r.v == nil {
			continue
		}
		if r.v.n == 0 {
			imp.warn(r.v.at, r.v.d, "dropped: 0 keeps the system's limit, as gofpm does")
			continue
		}
		var to []string
		for _, p := range imp.pools {
			if _, ok := p.vals[r.key]; !ok {
				p.vals[r.key] = strconv.Itoa(r.v.n)
				to = append(to, p.key)
			}
		}
		if len(to) == 0 {
			imp.warn(r.v.at, r.v.d, "dropped: every pool sets its own %s", r.key)
		} else {
			pools := "pool " + to[0]
			if len(to) > 1 {
				pools = "pools " + strings.Join(to, ", ")
			}
			imp.warn(r.v.at, r.v.d, "gofpm has no master-wide limit: set as %s in %s, whose workers inherited it from the php-fpm master", r.key, pools)
		}
	}
	return nil
}

// finishPool resolves one pool's paths, listen addresses and command.
func (imp *phpImporter) finishPool(p *phpPool) error {
	// The base of relative paths: the pool's prefix, else php-fpm's -p.
	base, what := imp.prefix, "the prefix "+imp.prefix
	if a := p.prefix; a.s != "" {
		switch {
		case filepath.IsAbs(a.s):
			base, what = filepath.Clean(a.s), "the pool prefix "+filepath.Clean(a.s)
			imp.warn(a.at, a.d, "used for this pool's relative paths, then dropped (gofpm has no prefix)")
		case imp.prefix != "":
			base = filepath.Join(imp.prefix, a.s)
			what = "the pool prefix " + base
			imp.warn(a.at, a.d, "resolved against the prefix %s to %s, used for this pool's relative paths, then dropped (gofpm has no prefix)", imp.prefix, base)
		default:
			base = ""
			imp.warn(a.at, a.d, "dropped: a relative prefix cannot be resolved without -p, so this pool's relative paths are kept as written")
		}
	} else if a.d != "" {
		imp.warn(a.at, a.d, "dropped: it is empty")
	}
	// rel resolves a relative path and says so.
	rel := func(s string, a phpStrAt, b, bwhat string) string {
		if s == "" || filepath.IsAbs(s) {
			return s
		}
		if b != "" {
			r := filepath.Join(b, s)
			imp.warn(a.at, a.d, "relative path %q resolved against %s", s, bwhat)
			return r
		}
		imp.warn(a.at, a.d, "relative path %q kept: php-fpm resolves it against its prefix (-p; Debian: /usr), gofpm against the folder of the TOML file", s)
		return s
	}

	if v := imp.listenAddr(p.listen, base, what, rel); v != "" {
		p.vals["listen"] = phpTOMLString(v)
	}
	// php-fpm serves pm.status_listen from a hidden pool without a prefix.
	if v := imp.listenAddr(p.statusListen, imp.prefix, "the prefix "+imp.prefix, rel); v != "" {
		p.vals["pm_status_listen"] = phpTOMLString(v)
	}

	for _, k := range []string{"access_log", "slowlog", "chroot", "chdir"} {
		a, ok := p.paths[k]
		if !ok || a.s == "" {
			continue
		}
		s := a.s
		if k == "chroot" && !filepath.IsAbs(s) {
			if i := strings.Index(s, "$prefix"); i > 0 {
				return fmt.Errorf("%s: %s: '$prefix' must be used at the beginning of the value", a.at, a.d)
			} else if i == 0 {
				if base == "" {
					imp.warn(a.at, a.d, "%q kept: $prefix cannot be resolved without -p", s)
					p.vals[k] = phpTOMLString(s)
					continue
				}
				r := filepath.Join(base, strings.TrimPrefix(s, "$prefix"))
				imp.warn(a.at, a.d, "%q resolved against %s", s, what)
				p.vals[k] = phpTOMLString(r)
				continue
			}
		}
		p.vals[k] = phpTOMLString(rel(s, a, base, what))
	}

	// php_value & co. The first definition of a key wins within the values
	// (php_value, php_flag) and within the admin values; an admin value
	// beats a value.
	first := map[[2]string]*phpIni{}
	var kept []*phpIni
	for _, e := range p.ini {
		k := [2]string{strconv.FormatBool(e.admin), e.key}
		if prev := first[k]; prev != nil {
			imp.warn(e.at, e.d, "dropped: php-fpm keeps the first %s (%s)", prev.d, prev.at)
			continue
		}
		first[k] = e
		kept = append(kept, e)
	}
	_, chrooted := p.paths["chroot"]
	var args []phpArg
	for _, e := range kept {
		if !e.admin {
			if a := first[[2]string{"true", e.key}]; a != nil {
				imp.warn(e.at, e.d, "dropped: %s (%s) wins", a.d, a.at)
				continue
			}
		}
		val, enc := e.val, ""
		expand := !chrooted && e.val != "" && !filepath.IsAbs(e.val) &&
			!(e.admin && strings.EqualFold(e.key, "error_log") && strings.EqualFold(e.val, "syslog"))
		if expand && phpContainsFold(phpIniPaths, e.key) {
			val = rel(e.val, phpStrAt{e.val, e.at, e.d}, base, what)
		}
		switch {
		case e.flag:
			enc = val
		case val == e.val && e.rawOK:
			enc = e.raw
		default:
			enc = phpCGILiteral(val)
		}
		arg := e.key + "=" + enc
		args = append(args, phpArg{arg: arg, note: fmt.Sprintf("%s, %s", e.d, e.at)})
		if e.admin {
			imp.warn(e.at, e.d, "passed to php-cgi as -d %s in command; scripts can now change it with ini_set(), which %s prevented", arg, e.kind)
		} else {
			imp.warn(e.at, e.d, "passed to php-cgi as -d %s in command", arg)
		}
	}
	p.vals["command"] = phpCommand(imp.o.PHPCGI, args)
	p.vals["worker_graceful_signal"] = phpTOMLString("SIGTERM")
	return nil
}

type phpArg struct{ arg, note string }

// phpCommand renders command = [...], one -d option per line with a comment
// naming its directive.
func phpCommand(cgi string, args []phpArg) string {
	if len(args) == 0 {
		return "[" + phpTOMLString(cgi) + "]"
	}
	var b strings.Builder
	b.WriteString("[\n  " + phpTOMLString(cgi) + ",\n")
	for _, a := range args {
		fmt.Fprintf(&b, "  \"-d\", %s, # %s\n", phpTOMLString(a.arg), phpTOMLComment(a.note))
	}
	b.WriteString("]")
	return b.String()
}

// listenAddr translates a listen address the way php-fpm reads it: with a
// ":" it is host:port (bare IPv6 hosts get brackets, "*" means every
// address), all digits is a port, anything else a Unix socket path.
func (imp *phpImporter) listenAddr(a phpStrAt, base, what string, rel func(string, phpStrAt, string, string) string) string {
	v := a.s
	switch {
	case v == "":
		return ""
	case strings.Contains(v, ":"):
		i := strings.LastIndexByte(v, ':')
		host, port := v[:i], v[i+1:]
		switch {
		case host == "*":
			imp.warn(a.at, a.d, "%q becomes %q (every address; php-fpm looked \"*\" up as a host name)", v, port)
			return port
		case strings.Contains(host, ":") && !strings.HasPrefix(host, "["):
			return "[" + host + "]:" + port
		}
		return v
	case strings.Trim(v, "0123456789") == "":
		return v
	}
	s := rel(v, a, base, what)
	if !strings.Contains(s, "/") {
		s = "./" + s // gofpm takes a path without "/" for a host name
	}
	return s
}

// phpCGILiteral writes a php.ini value so that php-cgi's -d reads back
// exactly s. php-cgi puts a value that starts with neither a letter, a
// digit nor a quote in double quotes itself; otherwise the ini parser sees
// it bare, where words such as On or E_ALL have a meaning.
func phpCGILiteral(s string) string {
	if s == "" {
		return ""
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; !iniIsAlnum(c) && strings.IndexByte("._/:,@+%-", c) < 0 {
			plain = false
			break
		}
	}
	// Bare, it is one ini token; a single word is looked up as a constant
	// (E_ALL, UTC) or is a keyword (On), so a word stays bare only when it
	// has a lower-case letter and is no keyword.
	if plain && iniIsAlnum(s[0]) &&
		(!iniIsConstant(s) || strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz") && iniKeyword(s) == "-") {
		return s
	}
	if !iniIsAlnum(s[0]) && s[0] != '"' && s[0] != '\'' && !strings.ContainsAny(s, "\"\\$") && !phpHasCtl(s) {
		return s // php-cgi puts it in double quotes itself
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func phpHasCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func phpContainsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// Key order of the TOML output.
var (
	phpGlobalKeys = []string{"pid", "error_log", "log_level", "emergency_restart_threshold",
		"emergency_restart_interval", "process_control_timeout"}
	phpPoolKeys = []string{"listen", "listen_backlog", "listen_owner", "listen_group", "listen_mode",
		"listen_acl_users", "listen_acl_groups", "listen_allowed_clients", "user", "group",
		"command", "worker_graceful_signal", "chroot", "chdir", "clear_env",
		"pm", "pm_max_children", "pm_start_servers", "pm_min_spare_servers", "pm_max_spare_servers",
		"pm_max_spawn_rate", "pm_process_idle_timeout", "pm_max_requests",
		"pm_status_path", "pm_status_listen", "ping_path", "ping_response",
		"request_terminate_timeout", "request_slowlog_timeout", "slowlog", "access_log", "access_format",
		"catch_workers_output", "decorate_workers_output", "rlimit_files", "rlimit_core",
		"process_priority", "security_limit_extensions"}
)

// render writes the TOML document.
func (imp *phpImporter) render() []byte {
	var b bytes.Buffer
	b.WriteString("# gofpm configuration translated from php-fpm by `gofpm import-php-fpm`.\n# Source files:\n")
	for _, s := range imp.sources {
		line := "#   " + s.path
		if s.from != "" {
			line += " (" + s.from + ")"
		}
		b.WriteString(phpTOMLComment(line) + "\n")
	}
	b.WriteString("# Every directive that has no meaning in gofpm, or whose meaning changed, was\n" +
		"# reported as a warning. Check the result with `gofpm check -c FILE`.\n")

	g := &imp.g
	b.WriteString("\n# Global settings ([global]).\n")
	for _, k := range phpGlobalKeys {
		if v, ok := g.vals[k]; ok {
			fmt.Fprintf(&b, "%s = %s\n", k, v)
		}
	}
	if !g.pctSet {
		b.WriteString("# process_control_timeout is not set: gofpm gives workers 10s to finish their\n" +
			"# request on reload and stop, where php-fpm's default (0) killed it.\n")
	}

	for _, p := range imp.pools {
		fmt.Fprintf(&b, "\n%s\n", phpTOMLComment(fmt.Sprintf("# Pool %q, from [%s] at %s.", p.key, p.name, p.at)))
		b.WriteString("# php-fpm ran PHP itself; gofpm runs php-cgi as the worker program (command),\n" +
			"# which serves FastCGI on the socket it inherits, with the pool's php_value,\n" +
			"# php_flag, php_admin_value and php_admin_flag settings as -d options.\n" +
			"# worker_graceful_signal = \"SIGTERM\": php-cgi finishes the request in hand\n" +
			"# on SIGTERM, while SIGQUIT (gofpm's default) ends it at once.\n")
		if !p.limitExt {
			b.WriteString("# php-fpm ran only .php and .phar scripts (security.limit_extensions); php-cgi\n" +
				"# runs any script the web server names: keep nginx's `location ~ \\.php$`.\n")
		}
		fmt.Fprintf(&b, "[pool.%s]\n", phpTOMLKey(p.key))
		for _, k := range phpPoolKeys {
			if v, ok := p.vals[k]; ok {
				fmt.Fprintf(&b, "%s = %s\n", k, v)
			}
		}
		if len(p.env) > 0 {
			fmt.Fprintf(&b, "\n[pool.%s.env]\n", phpTOMLKey(p.key))
			for _, e := range p.env {
				fmt.Fprintf(&b, "%s = %s\n", phpTOMLKey(e.key), phpTOMLString(e.val))
			}
		}
	}
	return b.Bytes()
}

// phpTOMLString writes s as a TOML basic string.
func phpTOMLString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// phpTOMLKey writes a key bare when TOML allows it, quoted otherwise.
func phpTOMLKey(k string) string {
	if k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" {
		return k
	}
	return phpTOMLString(k)
}

func phpTOMLArray(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = phpTOMLString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// phpTOMLComment makes s safe inside a TOML comment: valid UTF-8, no control
// characters but tab.
func phpTOMLComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// phpInt reads an integer as php-fpm does: an optional "-", then digits
// (the empty string is 0).
func phpInt(s string) (int, error) {
	t := strings.TrimPrefix(s, "-")
	if strings.Trim(t, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a valid number (greater or equal than zero)", s)
	}
	if t == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return int(n), nil
}

// phpRlimitCore reads rlimit_core: a number >= 0 or "unlimited" (-1).
func phpRlimitCore(s string) (int, error) {
	if strings.EqualFold(s, "unlimited") {
		return -1, nil
	}
	n, err := phpInt(s)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errors.New("must be greater than zero or 'unlimited'")
	}
	return n, nil
}

// phpBool reads a boolean as php-fpm 8.2 does, after the ini parser has
// already turned bare yes/no words into "1" and "".
func phpBool(s string) (bool, error) {
	switch s {
	case "1", "yes", "true", "on":
		return true, nil
	case "", "0", "no", "none", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean value %q", s)
}

// phpTime reads a php-fpm time (a number with an optional s, m, h or d
// suffix, read with atoi) and returns it in seconds and as a TOML duration
// string in the same unit.
func phpTime(s string) (secs int64, lit string, err error) {
	if s == "" {
		return 0, "", errors.New("invalid time value")
	}
	num, unit, mult := s, "s", int64(1)
	switch s[len(s)-1] {
	case 's':
		num = s[:len(s)-1]
	case 'm':
		num, unit, mult = s[:len(s)-1], "m", 60
	case 'h':
		num, unit, mult = s[:len(s)-1], "h", 3600
	case 'd':
		num, unit, mult = s[:len(s)-1], "h", 86400
	default:
		if c := s[len(s)-1]; c < '0' || c > '9' {
			return 0, "", fmt.Errorf("unknown suffix used in time value %q", s)
		}
	}
	n := int64(phpAtoi(num))
	if n < 0 {
		return 0, "", fmt.Errorf("negative time value %q", s)
	}
	secs = n * mult
	if secs > math.MaxInt32 {
		return 0, "", fmt.Errorf("time value %q is too large", s)
	}
	shown := n
	if mult == 86400 {
		shown = n * 24
	}
	return secs, phpTOMLString(strconv.FormatInt(shown, 10) + unit), nil
}

// phpAtoi is C's atoi as glibc has it: (int)strtol(s, NULL, 10).
func phpAtoi(s string) int32 {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	var n int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := int64(s[i] - '0')
		if neg {
			if n < (math.MinInt64+d)/10 {
				n = math.MinInt64
				continue
			}
			n = n*10 - d
		} else {
			if n > (math.MaxInt64-d)/10 {
				n = math.MaxInt64
				continue
			}
			n = n*10 + d
		}
	}
	return int32(n)
}

func phpSyslogFacility(s string) bool {
	for _, f := range []string{"AUTH", "AUTHPRIV", "CRON", "DAEMON", "FTP", "KERN", "LPR", "MAIL", "NEWS",
		"SYSLOG", "USER", "UUCP", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5", "LOCAL6", "LOCAL7"} {
		if strings.EqualFold(s, f) {
			return true
		}
	}
	return false
}

// ---- The ini reader (Zend/zend_ini_scanner.l, zend_ini_parser.y). ----

const (
	iniEntry = iota
	iniSection
	iniArray
)

// iniStmt is one statement of a line: [section], name = value or
// name[offset] = value.
type iniStmt struct {
	kind   int
	name   string
	offset string
	val    iniValue
	vars   []iniVar // every ${NAME} of the statement
}

// iniValue is a parsed value.
type iniValue struct {
	s       string   // what php-fpm sees, before $pool
	raw     string   // the source text without comment and outer blanks
	vars    []iniVar // the ${NAME} references of the value
	onlyVar string   // NAME when the value is exactly ${NAME}
}

type iniVar struct{ name, val string }

type iniScanner struct {
	b    []byte
	i    int
	env  func(string) (string, bool)
	vars []iniVar
}

// parseIniLine parses one line of a php-fpm configuration file. Like
// php-fpm it stops at a NUL byte and ends the line with "\n". A "\r" ends a
// statement too, so a line may hold several.
func parseIniLine(line []byte, env func(string) (string, bool)) ([]iniStmt, error) {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	} else {
		line = append(line[:len(line):len(line)], '\n')
	}
	s := &iniScanner{b: line, env: env}
	if len(line) > 3 && bytes.HasPrefix(line, []byte("\xef\xbb\xbf")) {
		s.i = 3
	}
	var out []iniStmt
	for {
		s.blanks()
		if s.eof() {
			return out, nil
		}
		s.vars = nil
		switch c := s.b[s.i]; {
		case c == '\n' || c == '\r':
			s.i++
		case c == ';':
			for !s.eof() && s.b[s.i] != '\n' && s.b[s.i] != '\r' {
				s.i++
			}
		case c == '[':
			s.i++
			name, err := s.compound(false)
			if err != nil {
				return nil, err
			}
			s.i++ // ']'
			out = append(out, iniStmt{kind: iniSection, name: name, vars: s.vars})
		case iniIsLabelChar(c):
			st, err := s.entry()
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		default:
			return nil, fmt.Errorf("syntax error: unexpected %s", s.what())
		}
	}
}

func (s *iniScanner) eof() bool { return s.i >= len(s.b) }

// peek returns the byte k ahead, or 0 at the end (NUL never occurs).
func (s *iniScanner) peek(k int) byte {
	if s.i+k < len(s.b) {
		return s.b[s.i+k]
	}
	return 0
}

func (s *iniScanner) blanks() {
	for !s.eof() && (s.b[s.i] == ' ' || s.b[s.i] == '\t') {
		s.i++
	}
}

// blanksThen reports whether blanks and then c come next.
func (s *iniScanner) blanksThen(c byte) bool {
	j := s.i
	for j < len(s.b) && (s.b[j] == ' ' || s.b[j] == '\t') {
		j++
	}
	return j < len(s.b) && s.b[j] == c
}

// what names the byte at the cursor for an error message.
func (s *iniScanner) what() string {
	switch c := s.peek(0); {
	case s.eof() || c == '\n' || c == '\r':
		return "end of line"
	case c < 0x20 || c >= 0x7f:
		return fmt.Sprintf("byte 0x%02x", c)
	default:
		return fmt.Sprintf("'%c'", c)
	}
}

// iniIsLabelChar: LABEL_CHAR [^=\n\r\t;&|^$~(){}!"[\]\x00].
func iniIsLabelChar(c byte) bool {
	return c != 0 && strings.IndexByte("=\n\r\t;&|^$~(){}!\"[]", c) < 0
}

func iniIsAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// iniIsConstant: CONSTANT [a-zA-Z_][a-zA-Z0-9_]*.
func iniIsConstant(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !iniIsAlnum(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

// iniConstants are the PHP constants a php-fpm configuration uses in
// practice (error_reporting masks); any other name stays as written, as
// PHP does for an undefined constant.
var iniConstants = map[string]string{
	"E_ERROR": "1", "E_WARNING": "2", "E_PARSE": "4", "E_NOTICE": "8",
	"E_CORE_ERROR": "16", "E_CORE_WARNING": "32", "E_COMPILE_ERROR": "64", "E_COMPILE_WARNING": "128",
	"E_USER_ERROR": "256", "E_USER_WARNING": "512", "E_USER_NOTICE": "1024", "E_STRICT": "2048",
	"E_RECOVERABLE_ERROR": "4096", "E_DEPRECATED": "8192", "E_USER_DEPRECATED": "16384", "E_ALL": "32767",
}

func iniConstant(name string) string {
	if v, ok := iniConstants[name]; ok {
		return v
	}
	return name
}

// iniKeyword returns "1" for yes/on/true, "" for no/off/false/none/null
// (any case), and "-" for any other word.
func iniKeyword(w string) string {
	switch strings.ToLower(w) {
	case "true", "on", "yes":
		return "1"
	case "false", "off", "no", "none", "null":
		return ""
	}
	return "-"
}

// entry reads name = value or name[offset] = value.
func (s *iniScanner) entry() (iniStmt, error) {
	j := s.i
	for j < len(s.b) && iniIsLabelChar(s.b[j]) {
		j++
	}
	name := strings.TrimRight(string(s.b[s.i:j]), " ")
	s.i = j
	st := iniStmt{kind: iniEntry, name: name}
	if s.peek(0) == '[' {
		st.kind = iniArray
		s.i++
		s.blanks()
		off, err := s.compound(true)
		if err != nil {
			return st, err
		}
		s.i++ // ']'
		st.offset = off
	}
	s.blanks()
	if s.peek(0) != '=' {
		if c := s.peek(0); s.eof() || c == '\n' || c == '\r' || c == ';' {
			return st, fmt.Errorf("syntax error: %q has no value (write %s = VALUE)", name, name)
		}
		return st, fmt.Errorf("syntax error: unexpected %s after %q (expected '=')", s.what(), name)
	}
	s.i++
	s.blanks()
	v, err := s.value()
	if err != nil {
		return st, err
	}
	st.val = v
	st.vars = s.vars
	return st, nil
}

// compound reads a section name (offset false) or an array offset up to
// the closing "]", which it leaves at the cursor. Quoted strings and ${NAME}
// work as in values; offsets also resolve constants.
func (s *iniScanner) compound(offset bool) (string, error) {
	var b strings.Builder
	for {
		if s.eof() {
			return "", errors.New("syntax error: missing ']'")
		}
		c := s.b[s.i]
		switch {
		case c == ']':
			return b.String(), nil
		case offset && (c == ' ' || c == '\t') && s.blanksThen(']'):
			s.blanks()
		case c == '\'':
			t, err := s.single()
			if err != nil {
				return "", err
			}
			b.WriteString(t)
		case c == '$' && s.peek(1) == '{':
			v, err := s.varRef()
			if err != nil {
				return "", err
			}
			b.WriteString(v)
		case c == '"' || (c == ' ' || c == '\t') && s.blanksThen('"'):
			s.blanks()
			t, err := s.quoted()
			if err != nil {
				return "", err
			}
			b.WriteString(t)
		default:
			n := s.run(false)
			if n == 0 {
				if c == '\n' || c == '\r' {
					return "", errors.New("syntax error: missing ']'")
				}
				return "", fmt.Errorf("syntax error: unexpected %s in a name", s.what())
			}
			r := string(s.b[s.i : s.i+n])
			s.i += n
			if offset && iniIsConstant(r) {
				r = iniConstant(r)
			}
			b.WriteString(r)
		}
	}
}

// run returns the length of the run of plain characters at the cursor:
// VALUE_CHARS in a value, SECTION_VALUE_CHARS in a name. "$" followed by
// anything but "{" is plain (LITERAL_DOLLAR); in names "\" escapes the next
// character.
func (s *iniScanner) run(value bool) int {
	stop := "\n\r;\"']\\"
	if value {
		stop = "= \t\n\r;&|^~()!\"'"
	}
	j := s.i
	for j < len(s.b) {
		c := s.b[j]
		switch {
		case c == '$':
			if j+1 >= len(s.b) || s.b[j+1] == '\n' || s.b[j+1] == '\r' {
				j++ // a "$" at the end of the line is itself
				continue
			}
			if s.b[j+1] == '{' {
				return j - s.i
			}
			if s.b[j+1] == '\\' && j+2 < len(s.b) && s.b[j+2] != '\n' && s.b[j+2] != '\r' {
				j += 3
			} else {
				j += 2
			}
		case !value && c == '\\':
			if j+1 >= len(s.b) {
				return j - s.i
			}
			j += 2
		case strings.IndexByte(stop, c) >= 0:
			return j - s.i
		default:
			j++
		}
	}
	return j - s.i
}

// single reads a '...' raw string.
func (s *iniScanner) single() (string, error) {
	end := bytes.IndexByte(s.b[s.i+1:], '\'')
	if end <= 0 {
		return "", errors.New("syntax error: unterminated or empty '...' string")
	}
	t := string(s.b[s.i+1 : s.i+1+end])
	s.i += end + 2
	return t, nil
}

// varRef reads ${NAME} and returns the variable's value.
func (s *iniScanner) varRef() (string, error) {
	j := s.i + 2
	for j < len(s.b) && iniIsLabelChar(s.b[j]) {
		j++
	}
	name := strings.Trim(string(s.b[s.i+2:j]), " ")
	if j >= len(s.b) || s.b[j] != '}' || name == "" {
		return "", errors.New("syntax error: bad ${NAME} reference")
	}
	s.i = j + 1
	v, _ := s.env(name)
	s.vars = append(s.vars, iniVar{name, v})
	return v, nil
}

// quoted reads a "..." string: \" \\ \$ are escapes, other backslashes
// stay, ${NAME} is expanded, and blanks after the closing quote are eaten.
// A \" right before the end of the line closes the string after a
// backslash (php's rule for "C:\path\").
func (s *iniScanner) quoted() (string, error) {
	s.i++
	var out strings.Builder
	start := s.i
	for {
		if s.eof() {
			return "", errors.New("syntax error: missing closing '\"'")
		}
		c := s.b[s.i]
		if c == '"' {
			break
		}
		if c == '$' && s.peek(1) == '{' {
			out.WriteString(iniUnescape(s.b[start:s.i]))
			v, err := s.varRef()
			if err != nil {
				return "", err
			}
			out.WriteString(v)
			start = s.i
			continue
		}
		if c == '\\' && s.i+1 < len(s.b) {
			if n := s.peek(2); s.b[s.i+1] == '"' && (s.i+2 >= len(s.b) || n == '\n' || n == '\r') {
				s.i++ // the backslash is text, the quote ends the string
				break
			}
			s.i += 2
			continue
		}
		s.i++
	}
	out.WriteString(iniUnescape(s.b[start:s.i]))
	s.i++
	s.blanks()
	return out.String(), nil
}

// iniUnescape applies zend_ini_escape_string for double quotes.
func iniUnescape(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			out = append(out, '\\')
			continue
		}
		i++
		switch b[i] {
		case '"', '\\', '$':
			out = append(out, b[i])
		default:
			out = append(out, '\\', b[i])
		}
	}
	return string(out)
}

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
	x, y := phpAtoi(a), phpAtoi(b)
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
