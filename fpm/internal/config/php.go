package config

// php-fpm's PHP settings of a php-cgi pool: php_value, php_flag,
// php_admin_value and php_admin_flag, checked and turned into php-cgi's -d
// options (Pool.PHPArgs), with cgi.fix_pathinfo=0 unless the pool sets it.

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// PHPValues is a php_value or php_admin_value table: ini name → value, the
// value written as php.ini would write it ("128M", "E_ALL & ~E_NOTICE",
// "/var/log/php.log"). TOML integers and booleans are accepted too.
type PHPValues map[string]string

// PHPFlags is a php_flag or php_admin_flag table: ini name → on/off.
type PHPFlags map[string]bool

// IsPHPCGI reports whether the pool's worker program is php-cgi (its
// command's program name starts with "php-cgi": php-cgi, php-cgi8.2).
func (p *Pool) IsPHPCGI() bool {
	return (p.Worker == "exec" || p.Worker == "php") && len(p.Command) > 0 && strings.HasPrefix(filepath.Base(p.Command[0]), "php-cgi")
}

// phpTables are the four keys, in the order their -d options are passed:
// php-cgi keeps the last -d of a name, so an admin setting beats a plain
// one of the same name, as in php-fpm.
var phpTables = []string{"php_value", "php_flag", "php_admin_value", "php_admin_flag"}

// validatePHP checks the PHP settings and fills p.PHPArgs.
func (l *loader) validatePHP(p *Pool) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	at := func(key ...string) keyPath { return append(keyPath{"pool", p.Name}, key...) }
	values := map[string]map[string]string{
		"php_value": p.PHPValue, "php_admin_value": p.PHPAdminValue,
		"php_flag": flagStrings(p.PHPFlag), "php_admin_flag": flagStrings(p.PHPAdminFlag),
	}
	php := p.IsPHPCGI()
	seen := map[string]bool{}
	for _, table := range phpTables {
		m := values[table]
		if len(m) > 0 && !php {
			l.errAt(at(table), "%s%s: PHP settings need a php-cgi pool (command = [\"php-cgi\"]); this pool runs %s",
				pre, table, p.program())
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v := m[k]
			switch {
			case !validIniName(k):
				l.errAt(at(table, k), "%s%s: %q is not a PHP setting name (letters, digits, \"_\", \".\" and \"-\")", pre, table, k)
			case strings.ContainsAny(v, "\n\r\x00"):
				l.errAt(at(table, k), "%s%s.%s: the value holds a line break or NUL (php-cgi would read a second setting)", pre, table, k)
			default:
				p.PHPArgs = append(p.PHPArgs, "-d", k+"="+v)
				seen[strings.ToLower(k)] = true
			}
		}
	}
	// An uploaded image must never run as PHP: with cgi.fix_pathinfo=1
	// (php-cgi's default) /upload/a.jpg/x.php runs a.jpg when the web
	// server passes SCRIPT_FILENAME without checking the file exists.
	if php && !seen["cgi.fix_pathinfo"] && !commandSets(p.Command, "cgi.fix_pathinfo") {
		p.PHPArgs = append([]string{"-d", "cgi.fix_pathinfo=0"}, p.PHPArgs...)
	}
}

// program names what a pool runs, for messages.
func (p *Pool) program() string {
	if p.Worker != "exec" && p.Worker != "php" {
		return "worker = " + fmt.Sprintf("%q", p.Worker)
	}
	if len(p.Command) == 0 {
		return "no command"
	}
	return fmt.Sprintf("%q", p.Command[0])
}

func flagStrings(f PHPFlags) map[string]string {
	if f == nil {
		return nil
	}
	m := make(map[string]string, len(f))
	for k, on := range f {
		m[k] = "0"
		if on {
			m[k] = "1"
		}
	}
	return m
}

// validIniName reports whether k can be a PHP ini directive name: letters,
// digits, "_", "." and "-", the characters of a pool name.
func validIniName(k string) bool { return validPoolName(k) }

// commandSets reports whether the command passes -d name=... itself.
func commandSets(cmd []string, name string) bool {
	for i, a := range cmd {
		d, ok := "", false
		switch {
		case a == "-d" && i+1 < len(cmd):
			d, ok = cmd[i+1], true
		case strings.HasPrefix(a, "-d") && len(a) > 2:
			d, ok = a[2:], true
		}
		if ok {
			if k, _, _ := strings.Cut(d, "="); strings.EqualFold(strings.TrimSpace(k), name) {
				return true
			}
		}
	}
	return false
}

// validatePHPFork checks a warm PHP pool (worker = "php"): one php-cgi
// parent forks pm_max_children children and keeps exactly that many, so
// the pool is static.
func (l *loader) validatePHPFork(p *Pool) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	if len(p.Command) > 0 && p.Command[0] != "" && !p.IsPHPCGI() {
		l.errAt(keyPath{"pool", p.Name, "command"}, "%scommand: worker = \"php\" runs php-cgi (command = [\"/usr/bin/php-cgi8.2\"]), not %q", pre, p.Command[0])
	}
	if p.PM != "static" && p.PM != "" {
		l.errAt(keyPath{"pool", p.Name, "pm"}, "%spm: worker = \"php\" forks its children from one warm php-cgi parent, which keeps exactly pm_max_children of them: use pm = \"static\" (for %s, use worker = \"exec\": each php-cgi then starts cold)", pre, p.PM)
	}
	if _, ok := p.Env["PHP_FCGI_CHILDREN"]; ok {
		l.errAt(keyPath{"pool", p.Name, "env", "PHP_FCGI_CHILDREN"}, "%senv.PHP_FCGI_CHILDREN: worker = \"php\" sets it to pm_max_children", pre)
	}
}
