package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTree writes files (relative name → body) under a new folder and
// returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const poolBody = "listen = %q\ncommand = [\"/bin/sh\"]\npm = \"static\"\npm_max_children = 1\n"

func pool(name, listen string) string {
	return "[pool." + name + "]\n" + strings.Replace(poolBody, "%q", `"`+listen+`"`, 1)
}

func TestIncludeGood(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"gofpm.toml":        "include = [\"pool.d/*.toml\", \"extra/*.toml\"]\n\n" + pool("main", "./main.sock"),
		"pool.d/b.toml":     "# the second file in glob order\n" + pool("bee", "./b.sock"),
		"pool.d/a.toml":     pool("aye", "run/a.sock") + "\n" + pool("aye2", "127.0.0.1:9001"),
		"pool.d/skip.conf":  "not read: only *.toml matches\n",
		"pool.d/dir.toml/x": "a folder matching the pattern is skipped",
	})
	cfg, err := Load(filepath.Join(dir, "gofpm.toml"), LoadOptions{Euid: 1000})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := []string{"main", "aye", "aye2", "bee"}; !slices.Equal(cfg.PoolOrder, want) {
		t.Errorf("PoolOrder %v, want %v", cfg.PoolOrder, want)
	}
	if want := []string{filepath.Join(dir, "pool.d/a.toml"), filepath.Join(dir, "pool.d/b.toml")}; !slices.Equal(cfg.Included, want) {
		t.Errorf("Included %v, want %v", cfg.Included, want)
	}
	// Relative paths in an included file are relative to the main file's folder.
	if got, want := cfg.Pools["aye"].Listen, filepath.Join(dir, "run/a.sock"); got != want {
		t.Errorf("aye listen %q, want %q", got, want)
	}
	sum := cfg.Summary()
	if len(sum) != 5 || !strings.HasPrefix(sum[0], "include pool.d/*.toml extra/*.toml: "+filepath.Join(dir, "pool.d/a.toml")) {
		t.Errorf("Summary %q, want an include line then four pools", sum)
	}
}

func TestIncludeErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // $D is the folder
	}{
		{"error in an included file", map[string]string{
			"gofpm.toml":    "include = [\"pool.d/*.toml\"]\n" + pool("main", "./main.sock"),
			"pool.d/a.toml": "\n\n" + pool("a", "./a.sock") + "pm_max_children = 1\n",
		}, "$D/pool.d/a.toml:8:1: invalid TOML: Key 'pool.a.pm_max_children' has already been defined."},
		{"bad value in an included file", map[string]string{
			"gofpm.toml":    "include = [\"pool.d/*.toml\"]\n" + pool("main", "./main.sock"),
			"pool.d/a.toml": "# one\n" + strings.Replace(pool("a", "./a.sock"), `pm = "static"`, `pm = "dynamik"`, 1),
		}, `$D/pool.d/a.toml:5:1: pool "a": pm: unknown process manager "dynamik" (static, dynamic or ondemand)`},
		{"pool defined twice", map[string]string{
			"gofpm.toml":    "include = [\"pool.d/*.toml\"]\n\n" + pool("www", "./main.sock"),
			"pool.d/a.toml": "# again\n" + pool("www", "./a.sock"),
		}, `$D/pool.d/a.toml:2:1: pool "www" is already defined at $D/gofpm.toml:3:1`},
		{"pool defined in two included files", map[string]string{
			"gofpm.toml":    "include = [\"pool.d/*.toml\"]\n" + pool("main", "./main.sock"),
			"pool.d/a.toml": pool("www", "./a.sock"),
			"pool.d/b.toml": "\n" + pool("www", "./b.sock"),
		}, `$D/pool.d/b.toml:2:1: pool "www" is already defined at $D/pool.d/a.toml:1:1`},
		{"global key in an included file", map[string]string{
			"gofpm.toml":    "include = [\"pool.d/*.toml\"]\n" + pool("main", "./main.sock"),
			"pool.d/a.toml": "pid = \"x.pid\"\n" + pool("a", "./a.sock"),
		}, `$D/pool.d/a.toml:1:1: "pid": an included file holds [pool.NAME] tables only (global keys go in $D/gofpm.toml)`},
		{"nested include", map[string]string{
			"gofpm.toml":    "include = [\"pool.d/*.toml\"]\n" + pool("main", "./main.sock"),
			"pool.d/a.toml": "include = [\"*.toml\"]\n" + pool("a", "./a.sock"),
		}, `$D/pool.d/a.toml:1:1: include: only the main configuration file may include others`},
		{"listen clash across files", map[string]string{
			"gofpm.toml":    "include = [\"pool.d/*.toml\"]\n" + pool("main", "127.0.0.1:9000"),
			"pool.d/a.toml": pool("a", "127.0.0.1:9000"),
		}, `$D/pool.d/a.toml:2:1: pool "a": listen: address "127.0.0.1:9000" is already used by pool "main"`},
		{"bad pattern", map[string]string{
			"gofpm.toml": "include = [\"pool.d/[*.toml\"]\n" + pool("main", "./main.sock"),
		}, `$D/gofpm.toml:1:12: include: pattern "pool.d/[*.toml": syntax error in pattern`},
		{"errors sorted by file", map[string]string{
			"gofpm.toml":    "include = [\"pool.d/*.toml\"]\n" + strings.Replace(pool("main", "./main.sock"), "children = 1", "children = 0", 1),
			"pool.d/a.toml": "[www]\n",
		}, "$D/gofpm.toml:6:1: pool \"main\": pm_max_children must be a positive value\n" +
			"$D/pool.d/a.toml:1:1: unknown table [www]: pools are [pool.www]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			_, err := Load(filepath.Join(dir, "gofpm.toml"), LoadOptions{Euid: 1000})
			want := strings.TrimSpace(strings.ReplaceAll(tt.want, "$D", dir))
			if err == nil || err.Error() != want {
				t.Errorf("error:\n got %v\nwant %s", err, want)
			}
		})
	}
}

func TestTeachingErrors(t *testing.T) {
	base := pool("www", "./www.sock")
	tests := []struct{ name, body, want string }{
		{"dotted name after its prefix", strings.Replace(base, "pm_max_children = 1", "pm.max_children = 4", 1),
			`5:1: key "pm.max_children": write pm_max_children (php-fpm's dotted names become underscores)`},
		{"dotted name alone", strings.Replace(base, "pm_max_children = 1\n", "pm_max_children = 1\nlisten.mode = \"0600\"\n", 1),
			`6:1: key "listen.mode": write listen_mode (php-fpm's dotted names become underscores)`},
		{"dotted global", "syslog.ident = \"x\"\n" + base,
			`1:1: unknown key "syslog.ident": write syslog_ident (php-fpm's dotted names become underscores)`},
		{"a pool key at the top", "pm.max_children = 4\n" + base,
			`1:1: unknown key "pm.max_children": write pm_max_children in a [pool.NAME] table (php-fpm's dotted names become underscores)`},
		{"a [www] table", "[www]\nlisten = \"./www.sock\"\n" + base,
			`1:1: unknown table [www]: pools are [pool.www]`},
		{"a [global] table", "[global]\npid = \"x.pid\"\n" + base,
			`1:1: unknown table [global]: global keys go at the top of the file, before any table`},
		{"an ini file", "; php-fpm pool\n[www]\nlisten = /run/php/www.sock\npm = dynamic\n",
			`1:1: this is a php-fpm ini file: gofpm import-php-fpm $F`},
		{"an ini file without comments", "[global]\npid = /run/php/php-fpm.pid\n",
			`1:1: this is a php-fpm ini file: gofpm import-php-fpm $F`},
		{"not ini: a TOML mistake", base + "listen_mode = = 3\n", `6:15: invalid TOML: expected value but found '=' instead`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			_, err := Load(path, LoadOptions{Euid: 1000})
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), path+":", "")
			}
			if want := strings.ReplaceAll(tt.want, "$F", path); got != want {
				t.Errorf("error:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestOpsKeys(t *testing.T) {
	dir := writeTree(t, map[string]string{"gofpm.toml": "error_log = \"syslog\"\nlog_limit = 4096\nsyslog_facility = \"LOCAL3\"\n" +
		"syslog_ident = \"web\"\nsyslog_address = \"run/log.sock\"\n" + pool("www", "./www.sock") +
		"access_suppress_path = [\"/ping\", \"/status\"]\n"})
	cfg, err := Load(filepath.Join(dir, "gofpm.toml"), LoadOptions{Euid: 1000})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.ErrorLog != "syslog" || cfg.LogLimit != 4096 || cfg.SyslogFacility != "local3" || cfg.SyslogIdent != "web" ||
		cfg.SyslogAddress != filepath.Join(dir, "run/log.sock") {
		t.Errorf("got error_log %q, log_limit %d, facility %q, ident %q, address %q", cfg.ErrorLog, cfg.LogLimit, cfg.SyslogFacility, cfg.SyslogIdent, cfg.SyslogAddress)
	}
	if got := cfg.Pools["www"].AccessSuppressPath; !slices.Equal(got, []string{"/ping", "/status"}) {
		t.Errorf("access_suppress_path %q", got)
	}

	bad := []struct{ name, body, want string }{
		{"log_limit too low", "log_limit = 64\n" + pool("www", "./www.sock"), `1:1: log_limit (64) must be at least 512 (php-fpm's rule)`},
		{"facility", "syslog_facility = \"kernel\"\n" + pool("www", "./www.sock"),
			`1:1: syslog_facility: unknown facility "kernel" (` + strings.Join(SyslogFacilities, ", ") + ")"},
		{"suppress path", pool("www", "./www.sock") + "access_suppress_path = [\"ping\"]\n",
			`6:1: pool "www": access_suppress_path: "ping" must be a request path starting with "/" (no spaces or control characters)`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadErr(t, tt.body, LoadOptions{Euid: 1000}); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
