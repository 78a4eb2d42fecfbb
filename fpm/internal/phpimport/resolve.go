package phpimport

// What depends on the whole configuration: relative paths (a pool's
// prefix may come after them), listen addresses, the php-cgi command with
// its -d options, and the global settings gofpm keeps per pool.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// iniPathKeys are the php.ini keys whose relative values php-fpm resolves
// against the prefix (FPM_PHP_INI_TO_EXPAND), unless the pool is chrooted.
var iniPathKeys = []string{
	"error_log", "extension_dir", "mime_magic.magicfile", "sendmail_path", "session.cookie_path",
	"session_pgsql.sem_file_name", "soap.wsdl_cache_dir", "uploadprogress.file.filename_template",
	"xdebug.output_dir", "xdebug.profiler_output_dir", "xdebug.trace_output_dir", "xmms.path",
	"axis2.client_home", "blenc.key_file", "coin_acceptor.device",
}

// finish resolves what depends on the whole configuration: relative paths
// (a pool's prefix may come after them), listen addresses, the php-cgi
// command, and the global settings that gofpm keeps per pool.
func (imp *importer) finish() error {
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
		g.vals[k] = tomlString(s)
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
		v   *intAt
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
func (imp *importer) finishPool(p *pool) error {
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
	rel := func(s string, a strAt, b, bwhat string) string {
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
		p.vals["listen"] = tomlString(v)
	}
	// php-fpm serves pm.status_listen from a hidden pool without a prefix.
	if v := imp.listenAddr(p.statusListen, imp.prefix, "the prefix "+imp.prefix, rel); v != "" {
		p.vals["pm_status_listen"] = tomlString(v)
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
					p.vals[k] = tomlString(s)
					continue
				}
				r := filepath.Join(base, strings.TrimPrefix(s, "$prefix"))
				imp.warn(a.at, a.d, "%q resolved against %s", s, what)
				p.vals[k] = tomlString(r)
				continue
			}
		}
		p.vals[k] = tomlString(rel(s, a, base, what))
	}

	// php_value & co. The first definition of a key wins within the values
	// (php_value, php_flag) and within the admin values; an admin value
	// beats a value.
	first := map[[2]string]*phpValue{}
	var kept []*phpValue
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
	p.php = map[string][]phpSetting{}
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
		if expand && containsFold(iniPathKeys, e.key) {
			val = rel(e.val, strAt{e.val, e.at, e.d}, base, what)
		}
		switch {
		case e.flag && val == "1":
			enc = "true"
		case e.flag:
			enc = "false"
		case val == e.val && e.rawOK:
			enc = tomlString(e.raw)
		default:
			enc = tomlString(cgiLiteral(val))
		}
		p.php[e.kind] = append(p.php[e.kind], phpSetting{key: e.key, val: enc, note: fmt.Sprintf("%s, %s", e.d, e.at)})
		if e.admin {
			if note := lockNote(e.key, e.kind); note != "" {
				imp.warn(e.at, e.d, "kept as %s%s", e.kind, note)
			}
		}
	}
	p.vals["command"] = tomlArray([]string{imp.o.PHPCGI})
	p.vals["worker_graceful_signal"] = tomlString("SIGTERM")
	if p.vals["pm"] == tomlString("static") {
		// As php-fpm: children forked from a started PHP, one opcache.
		p.vals["worker"] = tomlString("php")
	}
	return nil
}

// listenAddr translates a listen address the way php-fpm reads it: with a
// ":" it is host:port (bare IPv6 hosts get brackets, "*" means every
// address), all digits is a port, anything else a Unix socket path.
func (imp *importer) listenAddr(a strAt, base, what string, rel func(string, strAt, string, string) string) string {
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

// cgiLiteral writes a php.ini value so that php-cgi's -d reads back
// exactly s. php-cgi puts a value that starts with neither a letter, a
// digit nor a quote in double quotes itself; otherwise the ini parser sees
// it bare, where words such as On or E_ALL have a meaning.
func cgiLiteral(s string) string {
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
	if !iniIsAlnum(s[0]) && s[0] != '"' && s[0] != '\'' && !strings.ContainsAny(s, "\"\\$") && !hasCtl(s) {
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

func hasCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}
