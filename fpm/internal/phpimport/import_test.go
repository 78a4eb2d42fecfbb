package phpimport_test

// Tests of `gofpm import-php-fpm` (package phpimport). Where php-fpm8.2 and
// php-cgi8.2 are installed, the ini reader is also checked against php-fpm
// itself (php-fpm -tt dumps what it read) and the -d options against what
// php-cgi reads back.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/phpimport"
	"golang.org/x/sys/unix"
)

var updateImportGolden = flag.Bool("update-import", false, "rewrite testdata/*.toml from the importer's output")

const importTestPHPCGI = "/usr/bin/php-cgi8.2"

// importOK runs phpimport.Import and fails the test on an error.
func importOK(t *testing.T, files []string, o phpimport.Options) (string, []string) {
	t.Helper()
	if o.PHPCGI == "" {
		o.PHPCGI = importTestPHPCGI
	}
	out, warns, err := phpimport.Import(files, o)
	if err != nil {
		t.Fatalf("Import(%q): %v", files, err)
	}
	return string(out), warns
}

// importLoad writes the TOML to a temporary folder and loads it as a root
// master would with -R, without looking for php-cgi.
func importLoad(t *testing.T, out string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gofpm.toml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{AllowRoot: true, Euid: 0, SkipCommandCheck: true})
	if err != nil {
		t.Fatalf("Load refuses the imported config:\n%v\n--- config:\n%s", err, out)
	}
	return cfg
}

// importDecode decodes the TOML into Config with BurntSushi alone and
// checks that every key is one Config knows.
func importDecode(t testing.TB, out string) *config.Config {
	t.Helper()
	var c config.Config
	md, err := toml.Decode(out, &c)
	if err != nil {
		t.Fatalf("the output is not valid TOML: %v\n--- output:\n%s", err, out)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Fatalf("keys unknown to Config: %v\n--- output:\n%s", u, out)
	}
	return &c
}

func importWrite(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func importWantWarnings(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n  got  %s\n  want %s", strings.Join(got, "\n       "), strings.Join(want, "\n       "))
	}
}

// TestImportDebianStock translates Debian's stock php-fpm.conf, which
// includes pool.d/*.conf, with its stock www.conf, and loads the result.
func TestImportDebianStock(t *testing.T) {
	dir := t.TempDir()
	global, err := os.ReadFile("testdata/debian/php-fpm.conf")
	if err != nil {
		t.Fatal(err)
	}
	www, err := os.ReadFile("testdata/debian/www.conf")
	if err != nil {
		t.Fatal(err)
	}
	const stock = "include=/etc/php/8.2/fpm/pool.d/*.conf"
	if !bytes.Contains(global, []byte(stock)) {
		t.Fatalf("the fixture php-fpm.conf has no line %q", stock)
	}
	// The include points at the copy of pool.d, not at the machine's.
	global = bytes.Replace(global, []byte(stock), []byte("include="+dir+"/pool.d/*.conf"), 1)
	main := importWrite(t, dir, "php-fpm.conf", string(global))
	importWrite(t, dir, "pool.d/www.conf", string(www))

	out, warns := importOK(t, []string{main}, phpimport.Options{})
	importWantWarnings(t, warns, nil)
	if !strings.Contains(out, "#   "+dir+"/pool.d/www.conf (included from "+main+":145)\n") {
		t.Errorf("the header does not name the included www.conf:\n%s", out)
	}
	cfg := importLoad(t, out)
	if cfg.Pid != "/run/php/php8.2-fpm.pid" || cfg.ErrorLog != "/var/log/php8.2-fpm.log" {
		t.Errorf("pid %q, error_log %q", cfg.Pid, cfg.ErrorLog)
	}
	if cfg.ProcessControlTimeout.D() != 10*time.Second {
		t.Errorf("process_control_timeout %v, want gofpm's default 10s", cfg.ProcessControlTimeout.D())
	}
	if !slices.Equal(cfg.PoolOrder, []string{"www"}) {
		t.Fatalf("pools %v, want [www]", cfg.PoolOrder)
	}
	p := cfg.Pools["www"]
	want := config.Pool{
		Name: "www", Listen: "/run/php/php8.2-fpm.sock", ListenBacklog: 511,
		ListenOwner: "www-data", ListenGroup: "www-data", ListenMode: "0660",
		User: "www-data", Group: "www-data", Worker: "exec", Command: []string{importTestPHPCGI},
		PM: "dynamic", PMMaxChildren: 5, PMStartServers: 2, PMMinSpareServers: 1, PMMaxSpareServers: 3,
		PMMaxSpawnRate: 32, PMProcessIdleTimeout: config.Duration(10 * time.Second),
		PingResponse: "pong", AccessFormat: `%R - %u %t "%m %r" %s`, WorkerConcurrency: 1,
		WorkerGracefulSignal: "SIGTERM",
		Dispatch:             config.DispatchSocket, PMMaxQueue: 511,
		// php-cgi runs no uploaded image as PHP.
		PHPArgs: []string{"-d", "cgi.fix_pathinfo=0"},
	}
	// What Load resolves, www-data as this machine has it.
	wd, err := user.Lookup("www-data")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(wd.Uid)
	gid, _ := strconv.Atoi(wd.Gid)
	want.ListenAddr = config.Addr{Network: "unix", Address: want.Listen, Dial: want.Listen}
	want.ListenPerm, want.ListenOwnerUID, want.ListenOwnerGID, want.ListenGroupGID = 0o660, uid, gid, gid
	want.Identity = &config.Identity{UID: uint32(uid), GID: uint32(gid), Groups: []uint32{}, Name: "www-data", Home: wd.HomeDir}
	want.GracefulSignal = unix.SIGTERM
	if !reflect.DeepEqual(*p, want) {
		t.Errorf("pool www:\n  got  %+v\n  want %+v", *p, want)
	}

	// The pool file alone gives the same pool.
	out2, warns2 := importOK(t, []string{"testdata/debian/www.conf"}, phpimport.Options{})
	importWantWarnings(t, warns2, nil)
	if p2 := importLoad(t, out2).Pools["www"]; !reflect.DeepEqual(*p2, want) {
		t.Errorf("www.conf alone:\n  got  %+v\n  want %+v", *p2, want)
	}
	// Naming the included file again skips it.
	_, warns3 := importOK(t, []string{main, filepath.Join(dir, "pool.d/www.conf")}, phpimport.Options{})
	importWantWarnings(t, warns3, []string{filepath.Join(dir, "pool.d/www.conf") + ": skipped: already read (included from " + main + ":145)"})
	const stockWWW = "testdata/debian/www.conf"
	_, warns4 := importOK(t, []string{stockWWW, stockWWW}, phpimport.Options{})
	importWantWarnings(t, warns4, []string{stockWWW + ": skipped: already read"})
}

// TestImportIncludeGlob reads a global file whose relative include glob
// names two pool files.
func TestImportIncludeGlob(t *testing.T) {
	const main = "testdata/include/php-fpm.conf"
	abs, err := filepath.Abs("testdata/include")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		prefix string
		note   string
		pool   string // folder of the pool files as the importer names them
	}{
		{"no prefix", "", `relative pattern "pool.d/*.conf" resolved against the folder of ` + main + ` (php-fpm uses its prefix, -p)`,
			"testdata/include/pool.d"},
		{"prefix", abs, `relative pattern "pool.d/*.conf" resolved against the prefix ` + abs, abs + "/pool.d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, warns := importOK(t, []string{main}, phpimport.Options{Prefix: tc.prefix})
			importWantWarnings(t, warns, []string{
				main + ":7: include: " + tc.note,
			})
			cfg := importLoad(t, out)
			if !slices.Equal(cfg.PoolOrder, []string{"a", "b"}) {
				t.Fatalf("pools %v, want [a b] (glob order)", cfg.PoolOrder)
			}
			if cfg.Pid != "/run/gofpm-import-test.pid" || cfg.ProcessControlTimeout.D() != 30*time.Second {
				t.Errorf("pid %q, process_control_timeout %v", cfg.Pid, cfg.ProcessControlTimeout.D())
			}
			a, b := cfg.Pools["a"], cfg.Pools["b"]
			if a.Listen != "/run/gofpm-import-test/a.sock" || a.PM != "static" || a.PMMaxChildren != 2 ||
				!slices.Equal(a.Command, []string{importTestPHPCGI}) {
				t.Errorf("pool a: %+v", a)
			}
			if b.Listen != "127.0.0.1:9101" || b.PM != "ondemand" || b.PMProcessIdleTimeout.D() != time.Hour ||
				!slices.Equal(b.Command, []string{importTestPHPCGI}) || b.PHPValue["upload_max_filesize"] != "16M" ||
				!slices.Equal(b.PHPArgs, []string{"-d", "cgi.fix_pathinfo=0", "-d", "upload_max_filesize=16M"}) {
				t.Errorf("pool b: %+v", b)
			}
			for _, f := range []string{"a.conf", "b.conf"} {
				if !strings.Contains(out, "#   "+tc.pool+"/"+f+" (included from "+main+":7)\n") {
					t.Errorf("the header does not name %s:\n%s", f, out)
				}
			}
		})
	}
}

// TestImportFeatures translates a file with most directives: env[],
// php_value & co, $pool, listen forms, allowed clients, durations, dropped
// directives. The warnings are checked one by one, the TOML against
// testdata/features.toml (go test -run ImportFeatures -update-import
// rewrites it), and Load must accept it.
func TestImportFeatures(t *testing.T) {
	const f = "testdata/features.conf"
	out, warns := importOK(t, []string{f}, phpimport.Options{})
	importWantWarnings(t, warns, []string{
		f + `:3: pid: relative path "run/php-fpm.pid" kept: php-fpm resolves it against its localstatedir (Debian: /var) or -p, gofpm against the folder of the TOML file`,
		f + `:4: error_log: dropped: gofpm cannot log to syslog; it logs to stderr (the journal under systemd)`,
		f + `:5: syslog.ident: dropped: gofpm does not log to syslog`,
		f + `:6: log_level: alert becomes error (gofpm has no alert level)`,
		f + `:10: daemonize: dropped: gofpm always runs in the foreground (use systemd or a container)`,
		f + `:11: events.mechanism: dropped: the Go runtime chooses the event mechanism`,
		f + `:13: rlimit_files: gofpm has no master-wide limit: set as rlimit_files in pools app, tcp, any, whose workers inherited it from the php-fpm master`,
		f + `:23: listen.setfib: dropped: FreeBSD routing tables (SO_SETFIB) are not supported`,
		f + `:33: slowlog: kept; for php-cgi workers a slow request is logged without a PHP backtrace`,
		f + `:35: request_slowlog_trace_depth: dropped: gofpm cannot take a PHP backtrace of php-cgi`,
		f + `:40: process.dumpable: dropped: no such setting in gofpm`,
		f + `:41: security.limit_extensions: kept as security_limit_extensions, but gofpm checks it only for worker = "cgi" pools: php-cgi runs any script the web server names`,
		f + `:46: env[APP_ENV]: dropped: php-fpm keeps the first env[APP_ENV] (` + f + `:45)`,
		f + `:47: php_value[memory_limit]: dropped: php_admin_value[memory_limit] (` + f + `:50) wins`,
		f + `:49: php_admin_value[error_reporting]: kept as php_admin_value; scripts can now change it with ini_set() and a .user.ini file can override it, which php_admin_value prevented`,
		f + `:50: php_admin_value[memory_limit]: kept as php_admin_value; scripts can now change it with ini_set() and a .user.ini file can override it, which php_admin_value prevented`,
		f + `:51: php_admin_flag[log_errors]: kept as php_admin_flag; scripts can now change it with ini_set() and a .user.ini file can override it, which php_admin_flag prevented`,
		// PHP_INI_SYSTEM: neither ini_set() nor .user.ini can change it, so no warning.
		f + `:53: php_admin_value[date.timezone]: kept as php_admin_value; scripts can now change it with ini_set() and a .user.ini file can override it, which php_admin_value prevented`,
		f + `:58: listen.allowed_clients: "::1" kept without its blanks (php-fpm ignores an entry with blanks)`,
		f + `:61: apparmor_hat: dropped: no such setting in gofpm`,
		f + `:65: listen.allowed_clients: "10.0.0.0/8" dropped: not an IP address (php-fpm ignores it too)`,
		f + `:72: slowlog: kept; for php-cgi workers a slow request is logged without a PHP backtrace; relative path "log/v6.slow" kept: php-fpm resolves it against its prefix (-p; Debian: /usr), gofpm against the folder of the TOML file`,
		f + `:75: listen: "*:9002" becomes "9002" (every address; php-fpm looked "*" up as a host name)`,
	})

	golden := "testdata/features.toml"
	if *updateImportGolden {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(golden); err != nil {
		t.Errorf("%v (run go test -run ImportFeatures -update-import)", err)
	} else if out != string(want) {
		t.Errorf("output differs from %s (run go test -run ImportFeatures -update-import to accept it):\n%s", golden, out)
	}

	cfg := importLoad(t, out)
	if cfg.LogLevel != "error" || cfg.ErrorLog != "stderr" || cfg.EmergencyRestartThreshold != 10 ||
		cfg.EmergencyRestartInterval.D() != time.Minute || cfg.ProcessControlTimeout.D() != 10*time.Second {
		t.Errorf("globals: %+v", cfg)
	}
	if !slices.Equal(cfg.PoolOrder, []string{"app", "tcp", "v6", "any"}) {
		t.Fatalf("pools %v", cfg.PoolOrder)
	}
	app := cfg.Pools["app"]
	if want := map[string]string{"HOSTNAME": "$HOSTNAME", "PATH": "/usr/local/bin:/usr/bin:/bin",
		"TMPDIR": "/tmp/app", "APP_ENV": "production"}; !reflect.DeepEqual(app.Env, want) {
		t.Errorf("env %v, want %v", app.Env, want)
	}
	if !slices.Equal(app.Command, []string{importTestPHPCGI}) {
		t.Errorf("command %q", app.Command)
	}
	wantPHP := [4]any{
		config.PHPValues{"session.save_path": "/var/lib/php/sessions/app"},
		config.PHPFlags{"display_errors": false},
		config.PHPValues{"error_reporting": "E_ALL & ~E_DEPRECATED & ~E_STRICT", "memory_limit": "256M",
			"sendmail_path": "/usr/sbin/sendmail -t -i -f www@example.com", "date.timezone": "UTC"},
		config.PHPFlags{"log_errors": true},
	}
	if got := [4]any{app.PHPValue, app.PHPFlag, app.PHPAdminValue, app.PHPAdminFlag}; !reflect.DeepEqual(got, wantPHP) {
		t.Errorf("php_value, php_flag, php_admin_value, php_admin_flag\n  got  %v\n  want %v", got, wantPHP)
	}
	if app.Listen != "/run/php/app.sock" || app.ListenMode != "0660" || app.ListenBacklog != 511 ||
		app.PM != "ondemand" || app.PMMaxChildren != 8 || app.PMMaxRequests != 500 ||
		app.PMProcessIdleTimeout.D() != 10*time.Second || app.RequestTerminateTimeout.D() != 2*time.Minute ||
		app.RequestSlowlogTimeout.D() != 5*time.Second || app.Slowlog != "/var/log/php/app.slow.log" ||
		app.AccessLog != "/var/log/php/app.access.log" || app.AccessFormat != `%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%` ||
		!app.CatchWorkersOutput || app.DecorateOn() || app.ClearEnvOn() || app.RlimitFiles != 4096 ||
		app.PMStatusPath != "/status" || app.PingPath != "/ping" || app.WorkerGracefulSignal != "SIGTERM" ||
		!slices.Equal(app.SecurityLimitExtensions, []string{".php", ".phar"}) {
		t.Errorf("pool app: %+v", app)
	}
	tcp, v6, anyp := cfg.Pools["tcp"], cfg.Pools["v6"], cfg.Pools["any"]
	if tcp.Listen != ":9000" || !slices.Equal(tcp.ListenAllowedClients, []string{"127.0.0.1", "::1"}) || tcp.RlimitFiles != 4096 {
		t.Errorf("pool tcp: %+v", tcp)
	}
	if v6.Listen != "[::1]:9001" || !slices.Equal(v6.ListenAllowedClients, []string{"127.0.0.1"}) || v6.RlimitFiles != 1024 ||
		v6.PMStartServers != 2 || v6.Slowlog != filepath.Join(filepath.Dir(cfg.Path), "log/v6.slow") {
		t.Errorf("pool v6: %+v", v6)
	}
	if anyp.Listen != ":9002" {
		t.Errorf("pool any: listen %q", anyp.Listen)
	}
}

// importText imports a single generated file.
func importText(t *testing.T, text string, o phpimport.Options) (path, out string, warns []string, err error) {
	t.Helper()
	path = importWrite(t, t.TempDir(), "pool.conf", text)
	if o.PHPCGI == "" {
		o.PHPCGI = importTestPHPCGI
	}
	b, warns, err := phpimport.Import([]string{path}, o)
	return path, string(b), warns, err
}

// TestImportListen covers the forms of listen php-fpm accepts.
func TestImportListen(t *testing.T) {
	for _, tc := range []struct {
		listen, prefix string
		want           string // the TOML value
		loaded         string // after Load, "" = same; "dir/" stands for the TOML's folder
		warn           string
	}{
		{"/run/php/php8.2-fpm.sock", "", "/run/php/php8.2-fpm.sock", "", ""},
		{"/run/php/$pool.sock", "", "/run/php/www.sock", "", ""},
		{"9000", "", "9000", ":9000", ""},
		{"127.0.0.1:9000", "", "127.0.0.1:9000", "", ""},
		{"[::1]:9000", "", "[::1]:9000", "", ""},
		{"::1:9000", "", "[::1]:9000", "", ""},
		{"localhost:9000", "", "localhost:9000", "", ""},
		{"*:9000", "", "9000", ":9000", `listen: "*:9000" becomes "9000" (every address; php-fpm looked "*" up as a host name)`},
		{"www.sock", "", "./www.sock", "dir/www.sock",
			`listen: relative path "www.sock" kept: php-fpm resolves it against its prefix (-p; Debian: /usr), gofpm against the folder of the TOML file`},
		{"run/www.sock", "/srv/fpm", "/srv/fpm/run/www.sock", "", `listen: relative path "run/www.sock" resolved against the prefix /srv/fpm`},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			path, out, warns, err := importText(t, "[www]\nlisten = "+tc.listen+"\npm = static\npm.max_children = 1\n", phpimport.Options{Prefix: tc.prefix})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tc.warn != "" {
				want = []string{path + ":2: " + tc.warn}
			}
			importWantWarnings(t, warns, want)
			if c := importDecode(t, out); c.Pools["www"].Listen != tc.want {
				t.Errorf("listen = %q, want %q", c.Pools["www"].Listen, tc.want)
			}
			cfg := importLoad(t, out)
			loaded := tc.loaded
			if loaded == "" {
				loaded = tc.want
			}
			loaded = strings.Replace(loaded, "dir/", filepath.Dir(cfg.Path)+"/", 1)
			if cfg.Pools["www"].Listen != loaded {
				t.Errorf("after Load listen = %q, want %q", cfg.Pools["www"].Listen, loaded)
			}
		})
	}
}

// TestImportAllowedClients: php-fpm ignores entries inet_pton refuses; an
// empty list allows everyone; a list with no valid entry refuses everyone.
func TestImportAllowedClients(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  []string
		warns []string
	}{
		{"127.0.0.1", []string{"127.0.0.1"}, nil},
		{"127.0.0.1,::1,192.168.1.10", []string{"127.0.0.1", "::1", "192.168.1.10"}, nil},
		{"127.0.0.1, 10.0.0.1", []string{"127.0.0.1", "10.0.0.1"},
			[]string{`listen.allowed_clients: "10.0.0.1" kept without its blanks (php-fpm ignores an entry with blanks)`}},
		{"web.example,127.0.0.1", []string{"127.0.0.1"},
			[]string{`listen.allowed_clients: "web.example" dropped: not an IP address (php-fpm ignores it too)`}},
		{"", nil, nil},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, []string{
			`listen.allowed_clients: "10.0.0.0/8" dropped: not an IP address (php-fpm ignores it too); no valid address, so php-fpm refuses every connection; the entries are kept so that gofpm check reports them`}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			path, out, warns, err := importText(t, "[www]\nlisten = 127.0.0.1:9000\npm = static\npm.max_children = 1\nlisten.allowed_clients = "+tc.in+"\n", phpimport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range tc.warns {
				want = append(want, path+":5: "+w)
			}
			importWantWarnings(t, warns, want)
			if got := importDecode(t, out).Pools["www"].ListenAllowedClients; !slices.Equal(got, tc.want) {
				t.Errorf("listen_allowed_clients = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestImportPoolSubstitution: $pool becomes the pool's name (as first
// written) in string directives and env/php_value values, not in keys.
func TestImportPoolSubstitution(t *testing.T) {
	text := "[Shop]\nlisten = /run/$pool.sock\npm = static\npm.max_children = 1\n" +
		"slowlog = /var/log/$pool/slow.log\naccess.log = /var/log/$pool.$pool.log\n" +
		"env[POOL_$pool] = $pool\nphp_value[error_log] = /var/log/php-$pool.log\n" +
		"[SHOP]\nchdir = /srv/$pool\n"
	path, out, warns, err := importText(t, text, phpimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importWantWarnings(t, warns, []string{
		path + ":5: slowlog: kept; for php-cgi workers a slow request is logged without a PHP backtrace",
	})
	p := importDecode(t, out).Pools["Shop"]
	if p == nil {
		t.Fatalf("no pool Shop:\n%s", out)
	}
	if p.Listen != "/run/Shop.sock" || p.Slowlog != "/var/log/Shop/slow.log" || p.AccessLog != "/var/log/Shop.Shop.log" ||
		p.Chdir != "/srv/Shop" || !reflect.DeepEqual(p.Env, map[string]string{"POOL_$pool": "Shop"}) ||
		!slices.Equal(p.Command, []string{importTestPHPCGI}) ||
		!reflect.DeepEqual(p.PHPValue, config.PHPValues{"error_log": "/var/log/php-Shop.log"}) {
		t.Errorf("pool: %+v", p)
	}
}

// TestImportPrefix: relative paths resolve against -p, or against the
// pool's prefix, which may come after them.
func TestImportPrefix(t *testing.T) {
	text := "[global]\npid = run/fpm.pid\nerror_log = log/fpm.log\n" +
		"[a]\nlisten = a.sock\npm = static\npm.max_children = 1\nslowlog = log/$pool.slow\nchroot = $prefix/jail\n" +
		"php_admin_value[error_log] = log/php.log\nphp_admin_value[memory_limit] = 64M\nprefix = /srv/a\n" +
		"[b]\nlisten = b.sock\npm = static\npm.max_children = 1\naccess.log = log/b.access\n"
	path, out, warns, err := importText(t, text, phpimport.Options{Prefix: "/opt/php"})
	if err != nil {
		t.Fatal(err)
	}
	importWantWarnings(t, warns, []string{
		path + `:2: pid: relative path "run/fpm.pid" resolved against the prefix /opt/php`,
		path + `:3: error_log: relative path "log/fpm.log" resolved against the prefix /opt/php`,
		path + `:5: listen: relative path "a.sock" resolved against the pool prefix /srv/a`,
		path + `:8: slowlog: kept; for php-cgi workers a slow request is logged without a PHP backtrace; relative path "log/a.slow" resolved against the pool prefix /srv/a`,
		path + `:9: chroot: kept; php-cgi (command) and its libraries must exist inside the chroot; "$prefix/jail" resolved against the pool prefix /srv/a`,
		path + `:10: php_admin_value[error_log]: kept as php_admin_value; scripts can now change it with ini_set() and a .user.ini file can override it, which php_admin_value prevented`,
		path + `:11: php_admin_value[memory_limit]: kept as php_admin_value; scripts can now change it with ini_set() and a .user.ini file can override it, which php_admin_value prevented`,
		path + `:12: prefix: used for this pool's relative paths, then dropped (gofpm has no prefix)`,
		path + `:14: listen: relative path "b.sock" resolved against the prefix /opt/php`,
		path + `:17: access.log: relative path "log/b.access" resolved against the prefix /opt/php`,
	})
	c := importDecode(t, out)
	a, b := c.Pools["a"], c.Pools["b"]
	if c.Pid != "/opt/php/run/fpm.pid" || c.ErrorLog != "/opt/php/log/fpm.log" ||
		a.Listen != "/srv/a/a.sock" || a.Slowlog != "/srv/a/log/a.slow" || a.Chroot != "/srv/a/jail" ||
		b.Listen != "/opt/php/b.sock" || b.AccessLog != "/opt/php/log/b.access" {
		t.Errorf("paths: pid %q error_log %q, a %+v, b %+v", c.Pid, c.ErrorLog, a, b)
	}
	// php-fpm does not resolve php_values in a chrooted pool.
	if !reflect.DeepEqual(a.PHPAdminValue, config.PHPValues{"error_log": "log/php.log", "memory_limit": "64M"}) {
		t.Errorf("php_admin_value %v", a.PHPAdminValue)
	}
}

// TestImportEnv covers env[]: ${VAR}, $VAR, the first definition winning,
// and names gofpm cannot take.
func TestImportEnv(t *testing.T) {
	t.Setenv("GOFPM_IMPORT_TEST_VAR", "/srv/t")
	text := "[www]\nlisten = /run/www.sock\npm = static\npm.max_children = 1\n" +
		"env[A] = ${GOFPM_IMPORT_TEST_VAR}\n" +
		"env[B] = ${GOFPM_IMPORT_TEST_VAR}/bin:/usr/bin\n" +
		"env[C] = $HOME\n" +
		"env[D] = first\nenv[D] = second\n" +
		"env[E=F] = x\n" +
		"env[G] = \"quoted value\"  ; comment\n"
	path, out, warns, err := importText(t, text, phpimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importWantWarnings(t, warns, []string{
		path + `:5: env[A]: ${GOFPM_IMPORT_TEST_VAR} becomes "$GOFPM_IMPORT_TEST_VAR": gofpm reads GOFPM_IMPORT_TEST_VAR from its own environment when it starts`,
		path + `:6: env[B]: ${GOFPM_IMPORT_TEST_VAR} ("/srv/t") read from the environment of this import; php-fpm reads it each time it starts`,
		path + `:9: env[D]: dropped: php-fpm keeps the first env[D] (` + path + `:8)`,
		path + `:10: env[E=F]: dropped: a variable name cannot hold "="`,
	})
	want := map[string]string{"A": "$GOFPM_IMPORT_TEST_VAR", "B": "/srv/t/bin:/usr/bin", "C": "$HOME", "D": "first", "G": "quoted value"}
	if got := importLoad(t, out).Pools["www"].Env; !reflect.DeepEqual(got, want) {
		t.Errorf("env %v, want %v", got, want)
	}
}

// importIniValueCases are values as php-fpm 8.2 reads them (checked with
// php-fpm8.2 -tt; TestImportMatchesPHPFPM repeats the check where it is
// installed). The pool is www; GOFPM_IMPORT_TEST_VAR is /srv/t.
var importIniValueCases = []struct{ src, want string }{
	{`plain`, "plain"},
	{`"a b" c`, "a bc"},
	{`a "b"`, "ab"},
	{`"a" "b"`, "ab"},
	{`a"b"c`, "abc"},
	{`'x;y'  ; comment`, "x;y"},
	{`yes`, "1"},
	{`ON`, "1"},
	{`True`, "1"},
	{`"q\"q\\n\$"`, `q"q\n$`},
	{`"C:\path\"`, `C:\path\`},
	{`"\\\\server\share"`, `\\server\share`},
	{`1 | 2 | 4`, "7"},
	{`6 & 3 | 8`, "10"},
	{`abc | 1`, "1"},
	{`~1`, "-2"},
	{`!0`, "1"},
	{`(1)`, "1"},
	{`E_ALL & ~E_NOTICE`, "32759"},
	{`a  b`, "a  b"},
	{"a\tb", "a\tb"},
	{`$pool-x`, "www-x"},
	{`$HOME`, "$HOME"},
	{`abc$`, "abc$"},
	{`{a}`, "{a}"},
	{`-1.5`, "-1.5"},
	{`foo.bar:baz`, "foo.bar:baz"},
	{`/srv/www/$pool/`, "/srv/www/www/"},
	{`${GOFPM_IMPORT_TEST_VAR}/x`, "/srv/t/x"},
	{`"${GOFPM_IMPORT_TEST_VAR}x"`, "/srv/tx"},
	{`${GOFPM_IMPORT_TEST_VAR}${GOFPM_IMPORT_TEST_VAR}`, "/srv/t/srv/t"},
	{`"a" ; "b"`, "a"},
	{`a ;b`, "a"},
	{`a;b`, "a"},
	{`"a;b"`, "a;b"},
	{`'a"b'`, `a"b`},
	{"\"x\"\r", "x"},
}

// importIniValueConf puts every case into env[K<n>] of pool www.
func importIniValueConf() string {
	var b strings.Builder
	b.WriteString("[www]\nlisten = /tmp/gofpm-import-test-www.sock\npm = static\npm.max_children = 1\n")
	for i, tc := range importIniValueCases {
		fmt.Fprintf(&b, "env[K%02d] = %s\n", i, tc.src)
	}
	return b.String()
}

func TestImportIniValues(t *testing.T) {
	t.Setenv("GOFPM_IMPORT_TEST_VAR", "/srv/t")
	_, out, _, err := importText(t, importIniValueConf(), phpimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := importDecode(t, out).Pools["www"].Env
	for i, tc := range importIniValueCases {
		k := fmt.Sprintf("K%02d", i)
		want := tc.want
		if strings.HasPrefix(tc.src, "${") && !strings.Contains(tc.src[2:], "${") && strings.HasSuffix(tc.src, "}") {
			want = "$" + tc.src[2:len(tc.src)-1]
		}
		if env[k] != want {
			t.Errorf("env[%s] = %s: got %q, want %q", k, tc.src, env[k], want)
		}
	}
	// Keys: blanks before "]" stay when they follow text, quotes go,
	// constants are resolved; section names keep theirs.
	_, out, _, err = importText(t, "[ww w]\nlisten = /run/a.sock\npm = static\npm.max_children = 1\n"+
		"env[A ] = 1\nenv[ B] = 2\nenv[\"C\"] = 3\nenv['D'] = 4\nenv[E_ALL] = 5\n", phpimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := importDecode(t, out)
	if p := c.Pools["ww_w"]; p == nil || !reflect.DeepEqual(p.Env, map[string]string{"A ": "1", "B": "2", "C": "3", "D": "4", "32767": "5"}) {
		t.Errorf("pools %v", c.Pools)
	}
}

// TestImportErrors: what php-fpm refuses is an error naming FILE:LINE.
func TestImportErrors(t *testing.T) {
	const pool = "[www]\nlisten = /run/www.sock\npm = static\npm.max_children = 1\n"
	for _, tc := range []struct {
		text string
		line int
		msg  string
	}{
		{pool + "[www", 5, "syntax error: missing ']'"},
		{pool + "pm.max_children = abc", 5, `pm.max_children: "abc" is not a valid number`},
		{pool + "pm.max_children = 2 3", 5, `pm.max_children: "2 3" is not a valid number`},
		{pool + "pm.max_children = 99999999999", 5, `pm.max_children: "99999999999" is out of range`},
		{pool + "foo = 1", 5, "unknown entry 'foo'"},
		{pool + "php_values[x] = 1", 5, "unknown directive 'php_values'"},
		{pool + "env[X] = ", 5, "env[X]: empty value"},
		{pool + "env[] = a", 5, "env[]: you must provide a key for field 'env'"},
		{pool + "# a comment", 5, `syntax error: "# a comment" has no value`},
		{pool + "listen", 5, `syntax error: "listen" has no value`},
		{pool + "env[X] = hello on", 5, "syntax error: yes, no, on, off, true, false, none and null must be the whole value"},
		{pool + "env[X] = a=b", 5, "syntax error: unexpected '=' in a value"},
		{pool + "env[X] = 'x", 5, "syntax error: unterminated or empty '...' string"},
		{pool + "env[X] = \"x", 5, "syntax error: missing closing '\"'"},
		{pool + "env[X] = ${}", 5, "syntax error: bad ${NAME} reference"},
		{pool + "env[X] = (1", 5, "syntax error: missing ')'"},
		{pool + "env[X] = 1 |", 5, "syntax error: the value ends after an operator"},
		{pool + "catch_workers_output = maybe", 5, `catch_workers_output: invalid boolean value "maybe"`},
		{pool + `catch_workers_output = "On"`, 5, `catch_workers_output: invalid boolean value "On"`},
		{pool + "request_terminate_timeout = 10x", 5, `request_terminate_timeout: unknown suffix used in time value "10x"`},
		{pool + "request_terminate_timeout = ", 5, "request_terminate_timeout: invalid time value"},
		{pool + "pm = lazy", 5, `pm: invalid process manager "lazy"`},
		{pool + "rlimit_core = -1", 5, "rlimit_core: must be greater than zero or 'unlimited'"},
		{pool + "chroot = jail/$prefix", 5, "chroot: '$prefix' must be used at the beginning of the value"},
		{"[global]\nlog_level = loud\n" + pool, 2, `log_level: invalid value "loud"`},
		{"[global]\npid = /run/$pool.pid\n" + pool, 2, "pid: can't use '$pool' when the pool is not defined"},
		{"[global]\nenv[X] = 1\n" + pool, 2, "env[X]: arrays are not allowed in the global section"},
		{"[global]\npm = static\n" + pool, 2, "unknown entry 'pm'"},
		{"[global]\nsyslog.facility = nowhere\n" + pool, 2, `syslog.facility: invalid value "nowhere"`},
		{"[]\n" + pool, 1, "[]: a pool needs a name"},
		{"[a b]\n" + pool + "[a_b]\n", 6, `[a_b]: becomes pool "a_b", like [a b]`},
		{pool + "env[X] = \xff", 5, "env[X]: not valid UTF-8"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			path, _, _, err := importText(t, tc.text, phpimport.Options{})
			prefix := fmt.Sprintf("%s:%d: ", path, tc.line)
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v, want %q...%q", err, prefix, tc.msg)
			}
		})
	}

	// No pool, a missing file, includes nested too deep.
	if _, _, _, err := importText(t, "[global]\npid = /run/x.pid\n", phpimport.Options{}); err == nil || !strings.Contains(err.Error(), "no pool defined") {
		t.Errorf("no pool: %v", err)
	}
	if _, _, err := phpimport.Import([]string{"testdata/missing.conf"}, phpimport.Options{}); err == nil || !strings.Contains(err.Error(), "missing.conf") {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := phpimport.Import(nil, phpimport.Options{}); err == nil {
		t.Error("no file: no error")
	}
	dir := t.TempDir()
	self := importWrite(t, dir, "self.conf", "[www]\ninclude = "+filepath.Join(dir, "self.conf")+"\n")
	if _, _, err := phpimport.Import([]string{self}, phpimport.Options{}); err == nil ||
		!strings.Contains(err.Error(), self+":2: include: failed to include more than 5 files recursively") {
		t.Errorf("recursive include: %v", err)
	}
}

// TestImportDropped lists pool directives that have no meaning in gofpm.
func TestImportDropped(t *testing.T) {
	text := "[global]\nlog_buffering = no\nlog_limit = 4096\nprocess.max = 128\nprocess.priority = -5\n" +
		"emergency_restart_threshold = 5\nrlimit_core = unlimited\n" +
		"[www]\nlisten = /run/www.sock\npm = static\npm.max_children = 1\nrlimit_core = 0\n" +
		"request_terminate_timeout_track_finished = yes\naccess.suppress_path[] = /ping\n" +
		"security.limit_extensions = php .\n"
	path, out, warns, err := importText(t, text, phpimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importWantWarnings(t, warns, []string{
		path + ":2: log_buffering: dropped: no such setting in gofpm",
		path + ":3: log_limit: dropped: no such setting in gofpm",
		path + ":4: process.max: dropped: gofpm has no cap across pools (pm_max_children caps each pool)",
		path + ":5: process.priority: dropped: gofpm does not renice its master (pools have process_priority)",
		path + ":6: emergency_restart_threshold: dropped: php-fpm ignores it without emergency_restart_interval (gofpm would refuse it)",
		path + ":7: rlimit_core: gofpm has no master-wide limit: set as rlimit_core in pool www, whose workers inherited it from the php-fpm master",
		path + ":12: rlimit_core: dropped: in php-fpm 0 keeps the inherited limit (in gofpm, rlimit_core = 0 means no core files)",
		path + ":13: request_terminate_timeout_track_finished: dropped: no such setting in gofpm",
		path + ":14: access.suppress_path[]: dropped: no such setting in gofpm",
		path + `:15: security.limit_extensions: kept as security_limit_extensions, but gofpm checks it only for worker = "cgi" pools: php-cgi runs any script the web server names; "php" becomes ".php"; "." dropped (it names no extension)`,
	})
	cfg := importLoad(t, out)
	if cfg.EmergencyRestartThreshold != 0 || !slices.Equal(cfg.Pools["www"].SecurityLimitExtensions, []string{".php"}) {
		t.Errorf("config: %+v, pool %+v", cfg, cfg.Pools["www"])
	}
}

// importPHPCGIWant is what php-fpm sets for testdata/phpcgi.conf, with
// GOFPM_IMPORT_TEST_EXT=.html.
var importPHPCGIWant = map[string]string{
	"user_agent":                  `a"b;c=d $x`,
	"highlight.comment":           " lead and trail ",
	"highlight.default":           "On",
	"highlight.html":              "E_ALL",
	"highlight.keyword":           `raw;"x"`,
	"highlight.string":            "foo.bar:baz",
	"arg_separator.output":        "&amp;",
	"docref_root":                 "/docs/cgi/",
	"docref_ext":                  ".html",
	"error_prepend_string":        `C:\path\`,
	"error_reporting":             "32759",
	"display_errors":              "1",
	"sendmail_from":               "a bc",
	"error_append_string":         "x=y",
	"user_dir":                    "10",
	"default_charset":             "",
	"include_path":                ".:/usr/share/php",
	"doc_root":                    "-5",
	"SMTP":                        "yes",
	"mail.force_extra_parameters": "-f www@example.com",
	"auto_prepend_file":           "",
	"unserialize_callback_func":   "Off",
}

// TestImportPHPCGIReadsBack runs php-cgi with the -d options the importer
// wrote and checks that PHP sees what php-fpm would have set.
func TestImportPHPCGIReadsBack(t *testing.T) {
	t.Setenv("GOFPM_IMPORT_TEST_EXT", ".html")
	out, _ := importOK(t, []string{"testdata/phpcgi.conf"}, phpimport.Options{})
	p := importLoad(t, out).Pools["cgi"]
	// cgi.fix_pathinfo=0, then one -d per setting.
	if len(p.PHPArgs) != 2+2*len(importPHPCGIWant) {
		t.Fatalf("%d -d options, want %d: %q", len(p.PHPArgs)/2, 1+len(importPHPCGIWant), p.PHPArgs)
	}
	if _, err := os.Stat(importTestPHPCGI); err != nil {
		t.Skipf("%s is not installed", importTestPHPCGI)
	}
	script := importWrite(t, t.TempDir(), "ini.php", `<?php
$out = [];
foreach (array_slice($argv, 1) as $k) { $out[$k] = ini_get($k); }
echo json_encode($out);
`)
	args := append([]string{"-n", "-q"}, p.PHPArgs...)
	args = append(args, "-f", script, "--")
	for k := range importPHPCGIWant {
		args = append(args, k)
	}
	res, err := exec.Command(importTestPHPCGI, args...).Output()
	if err != nil {
		t.Fatalf("php-cgi %q: %v", args, err)
	}
	var got map[string]string
	if err := json.Unmarshal(res, &got); err != nil {
		t.Fatalf("php-cgi printed %q: %v", res, err)
	}
	if !reflect.DeepEqual(got, importPHPCGIWant) {
		for k, w := range importPHPCGIWant {
			if got[k] != w {
				t.Errorf("%s: php-cgi reads %q, php-fpm sets %q", k, got[k], w)
			}
		}
	}
}

// importPHPFPMBinary returns php-fpm 8.2 when it is installed.
func importPHPFPMBinary(t *testing.T) string {
	for _, p := range []string{"php-fpm8.2", "/usr/sbin/php-fpm8.2"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("php-fpm8.2 is not installed")
	return ""
}

// importPHPFPMTest runs php-fpm -tt on the text (after a [global] that sends its
// log to a temporary file) and returns its output and whether it accepted
// the file.
func importPHPFPMTest(t *testing.T, bin, text string, env ...string) (string, bool) {
	dir := t.TempDir()
	conf := importWrite(t, dir, "php-fpm.conf", "[global]\nerror_log = "+dir+"/error.log\n"+text)
	cmd := exec.Command(bin, "-n", "-R", "-tt", "-y", conf)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// TestImportMatchesPHPFPM checks the ini reader against php-fpm itself: the
// values it reads, the php_values of phpcgi.conf, and the lines it refuses.
func TestImportMatchesPHPFPM(t *testing.T) {
	bin := importPHPFPMBinary(t)
	dump := regexp.MustCompile(`NOTICE: \t(env|php_value|php_admin_value)\[(.*?)\] = (.*)`)
	read := func(out string) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if s := dump.FindStringSubmatch(l); s != nil {
				m[s[2]] = s[3]
			}
		}
		return m
	}

	out, ok := importPHPFPMTest(t, bin, importIniValueConf(), "GOFPM_IMPORT_TEST_VAR=/srv/t")
	if !ok {
		t.Fatalf("php-fpm refuses the value cases:\n%s", out)
	}
	got := read(out)
	for i, tc := range importIniValueCases {
		if k := fmt.Sprintf("K%02d", i); got[k] != tc.want {
			t.Errorf("php-fpm reads %s as %q, the test expects %q", tc.src, got[k], tc.want)
		}
	}

	text, err := os.ReadFile("testdata/phpcgi.conf")
	if err != nil {
		t.Fatal(err)
	}
	out, ok = importPHPFPMTest(t, bin, string(text), "GOFPM_IMPORT_TEST_EXT=.html")
	if !ok {
		t.Fatalf("php-fpm refuses phpcgi.conf:\n%s", out)
	}
	if got := read(out); !reflect.DeepEqual(got, importPHPCGIWant) {
		for k, w := range importPHPCGIWant {
			if got[k] != w {
				t.Errorf("php_value[%s]: php-fpm sets %q, the test expects %q", k, got[k], w)
			}
		}
	}

	// Lines php-fpm refuses; the importer must refuse them too.
	const pool = "[www]\nlisten = /tmp/gofpm-import-test.sock\npm = static\npm.max_children = 1\n"
	if out, ok := importPHPFPMTest(t, bin, pool); !ok {
		t.Fatalf("php-fpm refuses the base pool:\n%s", out)
	}
	for _, line := range []string{
		"env[X] = hello on", "env[X] = a=b", "env[X] = ", "env[] = a", "# comment", "env[X] = 'x",
		"env[X] = \"x", "env[X] = ${}", "env[X] = (1", "pm.max_children = abc", "pm.max_children = 2 3",
		"catch_workers_output = maybe", `catch_workers_output = "On"`, "request_terminate_timeout = 10x",
		"request_terminate_timeout = ", "pm = lazy", "foo = 1", "php_values[x] = 1", "listen", "[www",
		"rlimit_core = -1", "[global]\nenv[X] = 1", "[global]\npid = /tmp/$pool.pid", "[global]\nlog_level = loud",
	} {
		if out, ok := importPHPFPMTest(t, bin, pool+line+"\n"); ok {
			t.Errorf("php-fpm accepts %q:\n%s", line, out)
		}
		if _, _, _, err := importText(t, pool+line+"\n", phpimport.Options{}); err == nil {
			t.Errorf("the importer accepts %q, php-fpm does not", line)
		}
	}
}

// FuzzImportPHPFPM feeds arbitrary ini text to the importer: it must not
// panic, every error and warning must name the file, and a translation
// must be TOML that decodes into Config with no unknown key.
func FuzzImportPHPFPM(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.conf")
	seeds = append(seeds, "testdata/debian/www.conf", "testdata/include/pool.d/b.conf")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(importIniValueConf()))
	f.Add([]byte("[www]\nlisten = 9000\npm = static\npm.max_children = 1\nenv[A\\]] = \"x\\\"\r[b]\nphp_value[a] = ~(1|E_ALL)\n"))
	f.Add([]byte("\xef\xbb\xbf[w\x00ww]\nlisten = $\npm = ondemand\x00\n[\"a\" b]\nchroot = $prefix\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte("include")) {
			t.Skip("include reads other files")
		}
		path := filepath.Join(t.TempDir(), "fuzz.conf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, warns, err := phpimport.Import([]string{path}, phpimport.Options{PHPCGI: "php-cgi", Prefix: "/srv/php"})
		if err != nil {
			if !strings.HasPrefix(err.Error(), path) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q does not name the file on one line", err)
			}
			return
		}
		for _, w := range warns {
			if !strings.HasPrefix(w, path+":") || strings.Contains(w, "\n") {
				t.Fatalf("warning %q does not name the file on one line", w)
			}
		}
		var m map[string]any
		if _, err := toml.Decode(string(out), &m); err != nil {
			t.Fatalf("not TOML: %v\n%s", err, out)
		}
		importDecode(t, string(out))
	})
}
