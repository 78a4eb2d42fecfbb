package config

// Tests of the PHP settings of a php-cgi pool: the -d options they become,
// in order, cgi.fix_pathinfo=0 by default, and each mistake's message.

import (
	"slices"
	"strings"
	"testing"
)

func TestPHPArgs(t *testing.T) {
	head := "[pool.www]\nlisten = \"/tmp/gofpm-php-test.sock\"\npm = \"static\"\npm_max_children = 1\n"
	tests := []struct {
		name, body string
		want       []string
	}{
		{"default fix_pathinfo", `command = ["php-cgi"]`, []string{"-d", "cgi.fix_pathinfo=0"}},
		{"all four, admin last", `command = ["php-cgi"]
php_value = { memory_limit = "128M", max_execution_time = 30, "error_reporting" = "E_ALL & ~E_NOTICE" }
php_flag = { display_errors = false }
php_admin_value = { memory_limit = "64M" }
php_admin_flag = { log_errors = true }`, []string{"-d", "cgi.fix_pathinfo=0",
			"-d", "error_reporting=E_ALL & ~E_NOTICE", "-d", "max_execution_time=30", "-d", "memory_limit=128M",
			"-d", "display_errors=0", "-d", "memory_limit=64M", "-d", "log_errors=1"}},
		{"pool sets fix_pathinfo", `command = ["php-cgi"]
php_admin_value = { "cgi.fix_pathinfo" = "1" }`, []string{"-d", "cgi.fix_pathinfo=1"}},
		{"command sets fix_pathinfo", `command = ["php-cgi", "-d", "cgi.fix_pathinfo=1"]`, nil},
		{"not php", `command = ["/bin/sh"]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, head+tt.body+"\n"), LoadOptions{Euid: 1000, SkipCommandCheck: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Pools["www"].PHPArgs; !slices.Equal(got, tt.want) {
				t.Errorf("PHPArgs:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPHPBad(t *testing.T) {
	head := "[pool.www]\nlisten = \"/tmp/gofpm-php-test.sock\"\npm = \"static\"\npm_max_children = 1\n"
	tests := []struct{ name, body, want string }{
		{"not php-cgi", "command = [\"/bin/sh\"]\nphp_value = { memory_limit = \"64M\" }\n",
			`6:1: pool "www": php_value: PHP settings need a php-cgi pool (command = ["php-cgi"]); this pool runs "/bin/sh"`},
		{"cgi bridge", "worker = \"cgi\"\nphp_admin_flag = { log_errors = true }\n",
			`6:1: pool "www": php_admin_flag: PHP settings need a php-cgi pool (command = ["php-cgi"]); this pool runs worker = "cgi"`},
		{"bad name", "command = [\"php-cgi\"]\nphp_value = { \"memory limit\" = \"64M\" }\n",
			`6:15: pool "www": php_value: "memory limit" is not a PHP setting name (letters, digits, "_", "." and "-")`},
		{"line break", "command = [\"php-cgi\"]\nphp_admin_value = { error_log = \"/tmp/a\\nauto_prepend_file=/tmp/x\" }\n",
			`6:21: pool "www": php_admin_value.error_log: the value holds a line break or NUL (php-cgi would read a second setting)`},
		{"flag not bool", "command = [\"php-cgi\"]\nphp_flag = { display_errors = \"off\" }\n",
			`6:14: pool "www": php_flag.display_errors: want true or false, got string "off"`},
		{"warm pool, dynamic", "[pool.www]\nlisten = \"/tmp/gofpm-php-test.sock\"\npm = \"dynamic\"\npm_max_children = 2\n" +
			"command = [\"php-cgi\"]\nworker = \"php\"\npm_min_spare_servers = 1\npm_max_spare_servers = 1\n",
			`3:1: pool "www": pm: worker = "php" forks its children from one warm php-cgi parent, which keeps exactly pm_max_children of them: use pm = "static" (for dynamic, use worker = "exec": each php-cgi then starts cold)`},
		{"warm pool, not php-cgi", "command = [\"/bin/sh\"]\nworker = \"php\"\n",
			`5:1: pool "www": command: worker = "php" runs php-cgi (command = ["/usr/bin/php-cgi8.2"]), not "/bin/sh"`},
		{"value float", "command = [\"php-cgi\"]\nphp_value = { precision = 1.5 }\n",
			`6:15: pool "www": php_value.precision: want a string (or an integer, or true/false), got float 1.5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := head + tt.body
			if strings.HasPrefix(tt.body, "[pool") {
				body = tt.body
			}
			if got := loadErr(t, body, LoadOptions{Euid: 1000, SkipCommandCheck: true}); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
