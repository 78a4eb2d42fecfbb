package phpimport

// Pool directives (scalars, env[], php_value[] and siblings) to gofpm's
// pool keys.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// droppedDirectives are pool directives php-fpm knows and gofpm has no use for,
// with the reason and the kind of value php-fpm checks.
var droppedDirectives = map[string]struct{ kind, why string }{
	"listen.setfib":                            {"int", "FreeBSD routing tables (SO_SETFIB) are not supported"},
	"process.dumpable":                         {"bool", "no such setting in gofpm"},
	"request_slowlog_trace_depth":              {"int", "gofpm cannot take a PHP backtrace of php-cgi"},
	"request_terminate_timeout_track_finished": {"bool", "no such setting in gofpm"},
	"apparmor_hat":                             {"string", "no such setting in gofpm"},
}

// poolEntry handles a scalar directive in a pool section.
func (imp *importer) poolEntry(st iniStmt, at loc, d string) error {
	p := imp.cur
	v := st.val.s
	name := strings.ToLower(st.name)
	key := strings.ReplaceAll(name, ".", "_")
	bad := func(msg string) error { return fmt.Errorf("%s: %s: %s", at, d, msg) }
	str := func() (string, error) { return imp.poolName(v, at, d) }
	if dr, ok := droppedDirectives[name]; ok {
		switch dr.kind {
		case "int":
			if _, err := parseInt(v); err != nil {
				return bad(err.Error())
			}
		case "bool":
			if _, err := parseBool(v); err != nil {
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
		p.prefix = strAt{s, at, d}
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
			p.listen = strAt{s, at, d}
		} else {
			p.statusListen = strAt{s, at, d}
		}
	case "access.log", "slowlog", "chdir", "chroot":
		s, err := str()
		if err != nil {
			return err
		}
		p.paths[key] = strAt{s, at, d}
		switch {
		case s == "":
		case name == "slowlog":
			imp.warn(at, d, "kept; for php-cgi workers a slow request is logged without a PHP backtrace")
		case name == "chroot":
			imp.warn(at, d, "kept; php-cgi (command) and its libraries must exist inside the chroot")
		}
	case "listen.backlog", "process.priority", "pm.max_children", "pm.start_servers",
		"pm.min_spare_servers", "pm.max_spare_servers", "pm.max_spawn_rate", "pm.max_requests", "rlimit_files":
		n, err := parseInt(v)
		if err != nil {
			return bad(err.Error())
		}
		p.vals[key] = strconv.Itoa(n)
	case "rlimit_core":
		n, err := parseRlimitCore(v)
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
		_, lit, err := parseTime(v)
		if err != nil {
			return bad(err.Error())
		}
		p.vals[key] = lit
	case "catch_workers_output", "decorate_workers_output", "clear_env":
		b, err := parseBool(v)
		if err != nil {
			return bad(err.Error())
		}
		p.vals[key] = strconv.FormatBool(b)
	case "pm":
		switch l := strings.ToLower(v); l {
		case "static", "dynamic", "ondemand":
			p.vals[key] = tomlString(l)
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
			p.vals[key] = tomlArray(list)
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
		p.vals[key] = tomlArray(list)
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
func (t *table) setStr(key, s string) {
	if s == "" {
		delete(t.vals, key)
		return
	}
	t.vals[key] = tomlString(s)
}

// allowedClients translates listen.allowed_clients. php-fpm takes every
// comma-separated entry as is: one that inet_pton refuses (a name, a CIDR
// range, blanks around it) is logged and ignored, and when none is valid
// every connection is refused.
func (imp *importer) allowedClients(p *pool, s string, at loc, d string) {
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
		p.vals[key] = tomlArray(all)
		imp.warn(at, d, "no valid address, so php-fpm refuses every connection; the entries are kept so that gofpm check reports them")
	default:
		p.vals[key] = tomlArray(ok)
	}
}

// array handles name[key] = value.
func (imp *importer) array(st iniStmt, at loc, d string) error {
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
		p.env = append(p.env, envVar{key: st.offset, val: val, at: at, d: d})
	case "php_value", "php_flag", "php_admin_value", "php_admin_flag":
		e := &phpValue{key: st.offset, admin: strings.HasPrefix(st.name, "php_admin_"), flag: strings.HasSuffix(st.name, "_flag"),
			kind: st.name, at: at, d: d, raw: st.val.raw}
		if e.flag {
			b, err := parseBool(st.val.s)
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
