package phpimport

// The TOML writer: the document, in a fixed key order, with comments.

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Key order of the TOML output.
var (
	globalKeys = []string{"pid", "error_log", "log_level", "emergency_restart_threshold",
		"emergency_restart_interval", "process_control_timeout",
		"systemd_interval"}
	poolKeys = []string{"listen", "listen_backlog", "listen_owner", "listen_group", "listen_mode",
		"listen_acl_users", "listen_acl_groups", "listen_allowed_clients", "user", "group",
		"command", "worker", "worker_graceful_signal", "chroot", "chdir", "clear_env",
		"pm", "pm_max_children", "pm_start_servers", "pm_min_spare_servers", "pm_max_spare_servers",
		"pm_max_spawn_rate", "pm_process_idle_timeout", "pm_max_requests",
		"pm_status_path", "pm_status_listen", "ping_path", "ping_response",
		"request_terminate_timeout", "request_slowlog_timeout", "slowlog", "access_log", "access_format",
		"catch_workers_output", "decorate_workers_output", "rlimit_files", "rlimit_core",
		"process_priority", "security_limit_extensions"}
)

// renderHead writes the start of the TOML document: where it came from
// and the global settings, with include = [include] when include is set.
func (imp *importer) renderHead(b *bytes.Buffer, include string) {
	b.WriteString("# gofpm configuration translated from php-fpm by `gofpm import-php-fpm`.\n# Source files:\n")
	for _, s := range imp.sources {
		line := "#   " + s.path
		if s.from != "" {
			line += " (" + s.from + ")"
		}
		b.WriteString(tomlComment(line) + "\n")
	}
	b.WriteString("# Every directive that has no meaning in gofpm, or whose meaning changed, was\n" +
		"# reported as a warning. Check the result with `gofpm check -c FILE`.\n")

	g := &imp.g
	b.WriteString("\n# Global settings ([global]).\n")
	for _, k := range globalKeys {
		if v, ok := g.vals[k]; ok {
			fmt.Fprintf(b, "%s = %s\n", k, v)
		}
	}
	if !g.pctSet {
		b.WriteString("# process_control_timeout is not set: gofpm gives workers 10s to finish their\n" +
			"# request on reload and stop, where php-fpm's default (0) killed it.\n")
	}
	if include != "" {
		b.WriteString("# One file per pool, as php-fpm's pool.d/ (gofpm import-php-fpm --pool-dir).\n")
		fmt.Fprintf(b, "include = [%s]\n", tomlString(include))
	}
}

// renderPool writes one [pool.NAME] table.
func (imp *importer) renderPool(b *bytes.Buffer, p *pool) {
	fmt.Fprintf(b, "\n%s\n", tomlComment(fmt.Sprintf("# Pool %q, from [%s] at %s.", p.key, p.name, p.at)))
	b.WriteString("# php-fpm ran PHP itself; gofpm runs php-cgi as the worker program (command),\n" +
		"# which serves FastCGI on the socket it inherits; gofpm passes the pool's\n" +
		"# php_value, php_flag, php_admin_value and php_admin_flag tables to it as -d\n" +
		"# options, and cgi.fix_pathinfo=0 unless a table sets it.\n" +
		"# worker_graceful_signal = \"SIGTERM\": php-cgi finishes the request in hand\n" +
		"# on SIGTERM, while SIGQUIT (gofpm's default) ends it at once.\n")
	if p.vals["worker"] == tomlString("php") {
		b.WriteString("# worker = \"php\": one php-cgi parent forks the pool's children after PHP has\n" +
			"# started, so they share one opcache and start warm, as php-fpm's did.\n")
	} else {
		b.WriteString("# php-fpm forked its children warm; here each php-cgi starts cold with its own\n" +
			"# opcache. For one warm opcache set worker = \"php\" and pm = \"static\" (an\n" +
			"# idle forked child costs little; see docs/php.md).\n")
	}
	if !p.limitExt {
		b.WriteString("# php-fpm ran only .php and .phar scripts (security.limit_extensions); php-cgi\n" +
			"# runs any script the web server names: keep nginx's `location ~ \\.php$`.\n")
	}
	fmt.Fprintf(b, "[pool.%s]\n", tomlKey(p.key))
	for _, k := range poolKeys {
		if v, ok := p.vals[k]; ok {
			fmt.Fprintf(b, "%s = %s\n", k, v)
		}
	}
	for _, table := range phpTables {
		if len(p.php[table]) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n[pool.%s.%s]\n", tomlKey(p.key), table)
		for _, e := range p.php[table] {
			fmt.Fprintf(b, "%s = %s # %s\n", tomlKey(e.key), e.val, tomlComment(e.note))
		}
	}
	if len(p.env) > 0 {
		fmt.Fprintf(b, "\n[pool.%s.env]\n", tomlKey(p.key))
		for _, e := range p.env {
			fmt.Fprintf(b, "%s = %s\n", tomlKey(e.key), tomlString(e.val))
		}
	}
}

// tomlString writes s as a TOML basic string.
func tomlString(s string) string {
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

// tomlKey writes a key bare when TOML allows it, quoted otherwise.
func tomlKey(k string) string {
	if k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" {
		return k
	}
	return tomlString(k)
}

func tomlArray(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// tomlComment makes s safe inside a TOML comment: valid UTF-8, no control
// characters but tab.
func tomlComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// phpTables is the order of the PHP settings' tables in a pool.
var phpTables = []string{"php_value", "php_flag", "php_admin_value", "php_admin_flag"}
