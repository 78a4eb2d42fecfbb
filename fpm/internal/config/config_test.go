package config

// Tests of config loading: one good file compared field by field, a table of
// bad files each holding one mistake with its exact message, and focused
// tests of durations, sizes, paths, the root rules and key positions.

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func ptr[T any](v T) *T { return &v }

// checkFields reports every field of got that differs from want (structs,
// pointers to structs, and maps or slices of them are compared member by
// member, so a failure names the field).
func checkFields(t *testing.T, name string, got, want reflect.Value) {
	t.Helper()
	switch {
	case got.Kind() == reflect.Pointer && got.Type().Elem().Kind() == reflect.Struct:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				t.Errorf("%s: got %v, want %v", name, got, want)
			}
			return
		}
		checkFields(t, name, got.Elem(), want.Elem())
	case got.Kind() == reflect.Struct && got.Type().PkgPath() != "":
		for i := range got.NumField() {
			checkFields(t, name+"."+got.Type().Field(i).Name, got.Field(i), want.Field(i))
		}
	case got.Kind() == reflect.Map && got.Type().Elem().Kind() == reflect.Pointer:
		if got.Len() != want.Len() {
			t.Errorf("%s: got %d entries, want %d", name, got.Len(), want.Len())
		}
		for _, k := range want.MapKeys() {
			if g := got.MapIndex(k); g.IsValid() {
				checkFields(t, fmt.Sprintf("%s[%v]", name, k), g, want.MapIndex(k))
			} else {
				t.Errorf("%s[%v] is missing", name, k)
			}
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			g, w := got.Interface(), want.Interface()
			if got.Kind() == reflect.Pointer && !got.IsNil() && !want.IsNil() {
				g, w = got.Elem().Interface(), want.Elem().Interface()
			}
			t.Errorf("%s:\n got %#v\nwant %#v", name, g, w)
		}
	}
}

func TestConfigGood(t *testing.T) {
	dir, err := filepath.Abs("testdata/config")
	if err != nil {
		t.Fatal(err)
	}
	in := func(p string) string { return filepath.Join(dir, p) }
	want := &Config{
		Path:                      in("good.toml"),
		Dir:                       dir,
		Pid:                       in("run/gofpm.pid"),
		ErrorLog:                  in("log/gofpm.log"),
		LogLevel:                  "notice",
		EmergencyRestartThreshold: 10,
		EmergencyRestartInterval:  Duration(time.Minute),
		ProcessControlTimeout:     Duration(10 * time.Second),
		SystemdInterval:           Duration(10 * time.Second),
		// The operator keys' defaults (ops_test.go sets them).
		LogLimit:       1024,
		SyslogFacility: "daemon",
		SyslogIdent:    "gofpm",
		SyslogAddress:  "/dev/log",
		PoolOrder:      []string{"www", "search"},
		Pools: map[string]*Pool{
			"www": {
				Name:                    "www",
				Listen:                  in("run/www.sock"),
				ListenBacklog:           511,
				ListenOwner:             "nobody",
				ListenGroup:             "65534",
				ListenMode:              "0660",
				ListenAllowedClients:    []string{"127.0.0.1"},
				ListenACLUsers:          []string{"nobody"},
				ListenACLGroups:         []string{"65534"},
				User:                    "nobody",
				Group:                   "65534",
				Groups:                  []string{"65534"},
				Worker:                  "exec",
				Command:                 []string{"/bin/sh", "-c", "exec worker"},
				Root:                    in("www"),
				Chdir:                   dir,
				Chroot:                  "",
				ClearEnv:                ptr(true),
				Env:                     map[string]string{"APP_ENV": "production", "QUOTED.NAME": "x"},
				PM:                      "dynamic",
				PMMaxChildren:           8,
				PMStartServers:          2,
				PMMinSpareServers:       1,
				PMMaxSpareServers:       3,
				PMMaxSpawnRate:          32,
				PMProcessIdleTimeout:    Duration(10 * time.Second),
				PMMaxRequests:           500,
				PMMaxRequestsJitter:     50,
				PMStatusPath:            "/status",
				PMStatusListen:          in("run/status.sock"),
				PingPath:                "/ping",
				PingResponse:            "pong",
				RequestTerminateTimeout: Duration(30 * time.Second),
				RequestSlowlogTimeout:   Duration(5 * time.Second),
				Slowlog:                 in("log/www.slow.log"),
				AccessLog:               in("log/www.access.log"),
				AccessFormat:            `%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%`,
				CatchWorkersOutput:      true,
				DecorateWorkersOutput:   ptr(false),
				RlimitFiles:             4096,
				RlimitCore:              ptr(Rlimit(0)),
				ProcessPriority:         0,
				SecurityLimitExtensions: []string{".php", ".cgi", ".pl", ".py", ".sh"},
				WorkerMaxMemory:         256 << 20,
				WorkerConcurrency:       1,
				WorkerGracefulSignal:    "SIGTERM",
				Dispatch:                "master", PMMaxQueue: 64, RequestQueueTimeout: Duration(5 * time.Second),
				// resolved
				ListenAddr:     Addr{Network: "unix", Address: in("run/www.sock"), Dial: in("run/www.sock")},
				StatusAddr:     Addr{Network: "unix", Address: in("run/status.sock"), Dial: in("run/status.sock")},
				ListenPerm:     0o660,
				ListenOwnerUID: 65534, ListenOwnerGID: 65534, ListenGroupGID: 65534,
				ListenACLUIDs:  []uint32{65534},
				ListenACLGIDs:  []uint32{65534},
				AllowedClients: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
				Identity:       &Identity{UID: 65534, GID: 65534, Groups: []uint32{65534}, Name: "nobody", Home: "/nonexistent"},
				GracefulSignal: unix.SIGTERM,
			},
			"search": {
				Name:                 "search",
				Listen:               "127.0.0.1:9001",
				ListenBacklog:        511,
				ListenMode:           "0660",
				ListenAllowedClients: []string{"127.0.0.1", "::1"},
				User:                 "nobody",
				Group:                "65534",
				Worker:               "cgi",
				PM:                   "ondemand",
				PMMaxChildren:        4,
				PMMaxSpawnRate:       32,
				PMProcessIdleTimeout: Duration(30 * time.Second),
				PingResponse:         "pong",
				AccessFormat:         `%R - %u %t "%m %r" %s`,
				WorkerConcurrency:    1,
				WorkerGracefulSignal: "SIGQUIT",
				Dispatch:             "socket", PMMaxQueue: 511,
				// resolved
				ListenAddr:     Addr{Network: "tcp", Address: "127.0.0.1:9001", Dial: "127.0.0.1:9001"},
				ListenPerm:     0o660,
				AllowedClients: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
				Identity:       &Identity{UID: 65534, GID: 65534, Groups: []uint32{}, Name: "nobody", Home: "/nonexistent"},
				GracefulSignal: unix.SIGQUIT,
			},
		},
		HTTP: &HTTP{
			Listen:      "127.0.0.1:8080",
			Root:        in("www"),
			Index:       []string{"index.php", "index.html"},
			DefaultPool: "www",
			TLSCert:     in("tls/gofpm.pem"),
			TLSKey:      in("tls/gofpm.key"),
			// read_timeout, max_body_bytes and trusted_proxies set; the
			// rest are defaults.
			ReadHeaderTimeout: Duration(10 * time.Second),
			IdleTimeout:       Duration(75 * time.Second),
			ConnectTimeout:    Duration(5 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      32 << 20,
			TrustedProxies:    []string{"10.0.0.0/8", "::1"},
			TrustedPrefixes:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			// The front as a PHP host, all set away from their defaults.
			ServerName:                "example.org",
			PagesAllow:                []string{"127.0.0.1", "10.1.0.0/16"},
			PagesAllowPrefixes:        []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.1.0.0/16")},
			MetricsPath:               "/metrics",
			ServeDotfiles:             true,
			FollowSymlinksOutsideRoot: true,
			Routes: []HTTPRoute{
				{Prefix: "/api/search", Pool: "search"},
				{Prefix: "/status", Pool: "www"},
			},
			HTTPBuffers: HTTPBuffers{ // defaults
				BodyBufferSize: 64 << 10, AnswerBufferSize: 256 << 10, BufferMemory: 64 << 20,
				BodyTimeout: Duration(60 * time.Second), SendTimeout: Duration(60 * time.Second),
				MaxConnections: 1024,
			},
		},
	}
	got, err := Load("testdata/config/good.toml", LoadOptions{Euid: 0})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checkFields(t, "Config", reflect.ValueOf(got), reflect.ValueOf(want))

	wantSummary := []string{
		"pool www: dynamic, 8 max children, 2 at start, 1-3 spare, listen " + in("run/www.sock") + `, command /bin/sh -c "exec worker"`,
		"pool search: ondemand, 4 max children, idle timeout 30s, listen 127.0.0.1:9001, worker cgi",
	}
	if s := got.Summary(); !slices.Equal(s, wantSummary) {
		t.Errorf("Summary:\n got %q\nwant %q", s, wantSummary)
	}
}

func TestConfigDefaults(t *testing.T) {
	dir, _ := filepath.Abs("testdata/config")
	got, err := Load("testdata/config/minimal.good.toml", LoadOptions{Euid: 1000})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		Path:                  filepath.Join(dir, "minimal.good.toml"),
		Dir:                   dir,
		ErrorLog:              "stderr",
		LogLevel:              "notice",
		ProcessControlTimeout: Duration(10 * time.Second),
		SystemdInterval:       Duration(10 * time.Second),
		LogLimit:              1024,
		SyslogFacility:        "daemon",
		SyslogIdent:           "gofpm",
		SyslogAddress:         "/dev/log",
		PoolOrder:             []string{"app"},
		Pools: map[string]*Pool{"app": {
			Name:                 "app",
			Listen:               ":9000", // php-fpm's bare port
			ListenBacklog:        511,
			ListenMode:           "0660",
			Worker:               "exec",
			Command:              []string{"/bin/sh"},
			PM:                   "static",
			PMMaxChildren:        4,
			PMMaxSpawnRate:       32,
			PMProcessIdleTimeout: Duration(10 * time.Second),
			PingResponse:         "pong",
			AccessFormat:         `%R - %u %t "%m %r" %s`,
			WorkerConcurrency:    1,
			WorkerGracefulSignal: "SIGQUIT",
			Dispatch:             "socket", PMMaxQueue: 511,
			// resolved
			ListenAddr:     Addr{Network: "tcp", Address: ":9000", Dial: "127.0.0.1:9000"},
			ListenPerm:     0o660,
			GracefulSignal: unix.SIGQUIT,
		}},
	}
	checkFields(t, "Config", reflect.ValueOf(got), reflect.ValueOf(want))
	if p := got.Pools["app"]; !p.ClearEnvOn() || !p.DecorateOn() || p.IsUnix() {
		t.Errorf("ClearEnvOn %v, DecorateOn %v, IsUnix %v; want true, true, false", p.ClearEnvOn(), p.DecorateOn(), p.IsUnix())
	}
	if s := got.Summary(); !slices.Equal(s, []string{"pool app: static, 4 children, listen :9000, command /bin/sh"}) {
		t.Errorf("Summary: %q", s)
	}
}

// TestConfigBad loads each testdata/config/*.bad.toml (one mistake each) as a
// non-root master and compares the whole error text.
func TestConfigBad(t *testing.T) {
	dir, _ := filepath.Abs("testdata/config")
	tests := []struct {
		name string
		want string // LINE:COL: message lines; $DIR is the testdata folder
	}{
		{"access_format", `6:1: pool "www": access_format: invalid token %Z`},
		{"access_format_embrace", `6:1: pool "www": access_format: embrace is not allowed for modifier %s`},
		{"allowed_clients", `6:1: pool "www": listen_allowed_clients: "localhost" is not an IP address`},
		{"bad_duration", `1:1: process_control_timeout: invalid duration "10 seconds" (want "10s", "500ms" or a number of seconds)`},
		{"bad_log_level", `1:1: log_level: unknown level "verbose" (debug, notice, warning or error)`},
		{"bad_pm", `4:1: pool "www": pm: unknown process manager "dynamik" (static, dynamic or ondemand)`},
		{"bad_signal", `6:1: pool "www": worker_graceful_signal: unknown signal "SIGFOO"`},
		{"bad_size", `6:1: pool "www": worker_max_memory: invalid size "64XB" (want a number of bytes, or a number with KiB, MiB, GiB, KB, MB, GB, K, M or G)`},
		{"bad_worker", `6:1: pool "www": worker: unknown worker "fastcgi" (exec, php or cgi)`},
		{"chdir_missing", `6:1: pool "www": chdir: "$DIR/no-such-dir" is not a directory`},
		{"chroot_not_root", `6:1: pool "www": chroot: chroot needs a root master`},
		{"command_not_executable", `3:1: pool "www": command: "$DIR/minimal.good.toml" is not executable`},
		{"command_not_found", `3:1: pool "www": command: "/nonexistent/gofpm-worker" not found`},
		{"command_not_in_path", `3:1: pool "www": command: "gofpm-no-such-worker" not found in $PATH`},
		{"concurrency", `6:1: pool "www": worker_concurrency must be a positive value`},
		{"duplicate_key", `6:1: invalid TOML: Key 'pool.www.pm' has already been defined.`},
		{"duplicate_listen", `8:1: pool "two": listen: address "127.0.0.1:9000" is already used by pool "www"`},
		{"dynamic_max_below_min", `7:1: pool "www": pm_max_spare_servers (2) must not be less than pm_min_spare_servers (3)`},
		{"dynamic_min_spare_zero", `6:1: pool "www": pm_min_spare_servers (0) must be a positive value`},
		{"dynamic_no_spare", `1:1: pool "www": pm_min_spare_servers has not been defined (pm = "dynamic" needs it)`},
		{"dynamic_spare_over_children", `7:1: pool "www": pm_min_spare_servers (1) and pm_max_spare_servers (5) cannot be greater than pm_max_children (4)`},
		{"dynamic_start_range", `6:1: pool "www": pm_start_servers (4) must not be less than pm_min_spare_servers (1) and not greater than pm_max_spare_servers (3)`},
		{"emergency_interval", `1:1: emergency_restart_interval must be set when emergency_restart_threshold is set`},
		{"empty_command", `3:1: pool "www": command is empty (worker = "exec" needs the worker program)`},
		{"env_empty", `9:1: pool "www": env.EMPTY is empty`},
		{"http_default_pool", `9:1: http: default_pool: unknown pool "api"`},
		{"http_listen", `8:1: http: listen: invalid address "127.0.0.1" (want "host:port")`},
		{"http_listen_port", `8:1: http: listen: invalid port value "65536" (0-65535)`},
		{"http_listen_taken", `8:1: http: listen: address "127.0.0.1:9000" is already used by pool "www"`},
		{"http_no_listen", `7:1: http: no listen address has been defined`},
		{"http_tls", `9:1: http: tls_cert and tls_key must be set together`},
		{"http_trusted", `9:1: http: trusted_proxies[1]: "proxy.example" is not an IP address or CIDR prefix`},
		{"http_header_bytes", `9:1: http: max_header_bytes: 100 is below 1024`},
		// The front as a PHP host (validate_front.go).
		{"http_root_scripts", `8:1: http: default_pool "cgi" runs the scripts that URLs name (worker = "cgi"), so [http] needs root (the document root, e.g. root = "/srv/www")`},
		{"http_root_route", `19:1: http: route #1: pool "wrap" runs the scripts that URLs name (security_limit_extensions is set), so [http] needs root (the document root, e.g. root = "/srv/www")`},
		{"http_pages_allow", `9:1: http: pages_allow[1]: "localhost" is not an IP address or CIDR prefix`},
		{"http_server_name", `9:1: http: server_name "https://example.org/" is not a host name`},
		{"http_metrics_path", `10:1: http: metrics_path "/status" is a page of the default pool "www" already`},
		{"idle_timeout", `6:1: pool "www": pm_process_idle_timeout (0s) must be greater than 0s`},
		{"jitter", `7:1: pool "www": pm_max_requests_jitter (-10) must not be negative`},
		{"kill_signal", `6:1: pool "www": worker_graceful_signal: SIGKILL cannot be caught, so it is not graceful`},
		{"dispatch", `6:1: pool "www": dispatch: "kernel" is neither "socket" nor "master"`},
		{"max_queue", `6:1: pool "www": pm_max_queue (-1) must not be negative`},
		{"limit_extensions", `6:1: pool "www": security_limit_extensions: "cgi" must start with a "."`},
		{"listen_addr", `2:1: pool "www": listen: invalid address "localhost" (want a unix socket path, "host:port" or "[ipv6]:port")`},
		{"listen_backlog", `6:1: pool "www": listen_backlog (-2) must be -1 (the system maximum) or more`},
		{"listen_mode", `6:1: pool "www": listen_mode: "0999" is not an octal mode such as "0660"`},
		{"listen_owner", `6:1: pool "www": listen_owner: unknown user "no-such-user-gofpm"`},
		{"listen_port", `2:1: pool "www": listen: invalid port value "70000" (1-65535)`},
		{"listen_v6", `2:1: pool "www": listen: invalid address "::1:9000" (want a unix socket path, "host:port" or "[ipv6]:port")`},
		{"max_children_zero", `5:1: pool "www": pm_max_children must be a positive value`},
		{"max_requests", `6:1: pool "www": pm_max_requests (-1) must not be negative`},
		{"negative_duration", `6:1: pool "www": request_terminate_timeout: duration -5 must not be negative`},
		{"no_command", `1:1: pool "www": command has not been defined (worker = "exec" needs the worker program)`},
		{"no_listen", `1:1: pool "www": no listen address has been defined`},
		{"no_max_children", `1:1: pool "www": pm_max_children has not been defined`},
		{"no_pm", `1:1: pool "www": the process manager is missing (static, dynamic or ondemand)`},
		{"no_pool", `1:1: no pool has been defined (add a [pool.NAME] table)`},
		{"ping_path", `6:1: pool "www": ping_path "ping" must start with a "/"`},
		{"ping_same_as_status", `7:1: pool "www": ping_path "/status" is the same as pm_status_path`},
		{"pool_name", `1:1: pool "my pool": invalid pool name (use letters, digits, "_", "-" and ".")`},
		{"pool_not_table", `2:1: pool.listen: want a [pool.NAME] table, got string "127.0.0.1:9000"`},
		{"priority", `6:1: pool "www": process_priority (30) must be between -19 and 20`},
		{"rlimit_files", `6:1: pool "www": rlimit_files (-1) must not be negative`},
		{"route_duplicate", `15:1: http: route #2: prefix "/api" is already routed by route #1`},
		{"route_no_pool", `9:10: http: route #1: pool has not been defined`},
		{"route_pool", `12:1: http: route #1: pool: unknown pool "search"`},
		{"route_prefix", `15:1: http: route #2: prefix "api" must start with a "/"`},
		{"slowlog_missing", `6:1: pool "www": slowlog must be specified for use with request_slowlog_timeout`},
		{"slowlog_over_terminate", `7:1: pool "www": request_slowlog_timeout (10s) can't be greater than request_terminate_timeout (5s)`},
		{"spawn_rate", `6:1: pool "www": pm_max_spawn_rate must be a positive value`},
		{"status_listen_without_path", `6:1: pool "www": pm_status_listen needs pm_status_path`},
		{"status_path_chars", `6:1: pool "www": pm_status_path "/status?x" must contain only the following characters '[alphanum]/_-.~'`},
		{"status_path_short", `6:1: pool "www": pm_status_path "/" is not long enough`},
		{"status_path_slash", `6:1: pool "www": pm_status_path "status" must start with a "/"`},
		{"syntax", `2:25: invalid TOML: strings cannot contain newlines`},
		{"syntax_header", `2:10: invalid TOML: expected '.' or ']' to end table name, but got '\n' instead`},
		{"unknown_http_key", `12:1: unknown key "http.route.prfix" (did you mean "prefix"?)`},
		{"unknown_key", `6:1: unknown key "pool.www.pm_max_request" (did you mean "pm_max_requests"?)`},
		{"unknown_table", `1:1: unknown table [global]: global keys go at the top of the file, before any table`},
		{"user_not_root", `6:1: pool "www": user: setting a user needs a root master`},
		{"wrong_type", `5:1: pool "www": pm_max_children: want an integer, got string "eight"`},
		{"wrong_type_array", `3:1: pool "www": command: want an array of strings, got string "/bin/sh"`},
		{"wrong_type_env", `6:18: pool "www": env.B: want a string, got integer 2`},
	}
	files, _ := filepath.Glob("testdata/config/*.bad.toml")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".bad.toml")
		if !slices.ContainsFunc(tests, func(tt struct{ name, want string }) bool { return tt.name == name }) {
			t.Errorf("%s has no row in the table", f)
		}
	}
	t.Setenv("PATH", "/usr/bin:/bin")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "testdata/config/" + tt.name + ".bad.toml"
			var want []string
			for _, l := range strings.Split(strings.ReplaceAll(tt.want, "$DIR", dir), "\n") {
				want = append(want, file+":"+l)
			}
			cfg, err := Load(file, LoadOptions{Euid: 1000})
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *ConfigError: %v", err, err)
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("error:\n got %s\nwant %s", got, strings.Join(want, "\n"))
			}
		})
	}
}

// writeConfig writes a config file into a new temporary folder and returns
// its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gofpm.toml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadErr loads body and returns its error text with the file name cut.
func loadErr(t *testing.T, body string, o LoadOptions) string {
	t.Helper()
	path := writeConfig(t, body)
	_, err := Load(path, o)
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), path+":", "")
}

func TestConfigDuration(t *testing.T) {
	tests := []struct {
		in      any
		want    time.Duration
		wantErr string
	}{
		{"10s", 10 * time.Second, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{"1h", time.Hour, ""},
		{"0", 0, ""},
		{"15", 15 * time.Second, ""},
		{"2d", 48 * time.Hour, ""},
		{int64(30), 30 * time.Second, ""},
		{int64(0), 0, ""},
		{"", 0, `invalid duration "" (want "10s", "500ms" or a number of seconds)`},
		{"10 seconds", 0, `invalid duration "10 seconds" (want "10s", "500ms" or a number of seconds)`},
		{"-1s", 0, `duration "-1s" must not be negative`},
		{int64(-5), 0, `duration -5 must not be negative`},
		{int64(1) << 40, 0, `duration 1099511627776 is too long`},
		{1.5, 0, `want a duration ("10s" or a number of seconds), got float 1.5`},
		{true, 0, `want a duration ("10s" or a number of seconds), got boolean true`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			var d Duration
			err := d.UnmarshalTOML(tt.in)
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("error %v, want %s", err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case d.D() != tt.want:
				t.Errorf("got %v, want %v", d.D(), tt.want)
			}
		})
	}
}

func TestConfigSize(t *testing.T) {
	tests := []struct {
		in      any
		want    int64
		wantErr string
	}{
		{int64(4096), 4096, ""},
		{int64(0), 0, ""},
		{"4096", 4096, ""},
		{"100B", 100, ""},
		{"64MiB", 64 << 20, ""},
		{"64 MiB", 64 << 20, ""},
		{"512KiB", 512 << 10, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"10MB", 10_000_000, ""},
		{"10kB", 10_000, ""},
		{"1GB", 1_000_000_000, ""},
		{"1k", 1024, ""},
		{"1K", 1024, ""},
		{"128M", 128 << 20, ""},
		{"2g", 2 << 30, ""},
		{"1.5GiB", 0, `invalid size "1.5GiB" (want a number of bytes, or a number with KiB, MiB, GiB, KB, MB, GB, K, M or G)`},
		{"MiB", 0, `invalid size "MiB" (want a number of bytes, or a number with KiB, MiB, GiB, KB, MB, GB, K, M or G)`},
		{"64mib", 0, `invalid size "64mib" (want a number of bytes, or a number with KiB, MiB, GiB, KB, MB, GB, K, M or G)`},
		{"-1", 0, `size "-1" must not be negative`},
		{int64(-1), 0, `size -1 must not be negative`},
		{"99999999999TiB", 0, `size "99999999999TiB" is too large`},
		{1.5, 0, `want a size (bytes, or a string like "64MiB"), got float 1.5`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			var s Size
			err := s.UnmarshalTOML(tt.in)
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("error %v, want %s", err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case int64(s) != tt.want:
				t.Errorf("got %d, want %d", s, tt.want)
			}
		})
	}
}

// TestConfigRelativePaths loads a file given by a relative path and checks
// that every path in it is resolved against the file's folder, and that
// errors name the file as it was given.
func TestConfigRelativePaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "bin", "hello"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "etc", "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := `pid = "run/gofpm.pid"
error_log = "../log/gofpm.log"

[pool.a]
listen = "unix:a.sock"
command = ["bin/hello", "bin/not-a-path-argument"]
root = "../srv"
chdir = "app"
pm = "static"
pm_max_children = 1
pm_status_path = "/status"
pm_status_listen = "./status.sock"
slowlog = "log/a.slow"
access_log = "/var/log/a.access"
request_slowlog_timeout = "1s"

[pool.b]
listen = "[::1]:9000"
command = ["sh"]
pm = "static"
pm_max_children = 1
chroot = ""

[http]
listen = "127.0.0.1:8080"
root = "www"
tls_cert = "tls/cert.pem"
tls_key = "/etc/ssl/key.pem"
`
	if err := os.WriteFile(filepath.Join(dir, "etc", "gofpm.toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	cfg, err := Load("etc/gofpm.toml", LoadOptions{Euid: 1000})
	if err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	a, b := cfg.Pools["a"], cfg.Pools["b"]
	for _, c := range []struct{ name, got, want string }{
		{"Path", cfg.Path, filepath.Join(etc, "gofpm.toml")},
		{"Dir", cfg.Dir, etc},
		{"pid", cfg.Pid, filepath.Join(etc, "run/gofpm.pid")},
		{"error_log", cfg.ErrorLog, filepath.Join(dir, "log/gofpm.log")},
		{"a.listen", a.Listen, filepath.Join(etc, "a.sock")},
		{"a.command[0]", a.Command[0], filepath.Join(etc, "bin/hello")},
		{"a.command[1]", a.Command[1], "bin/not-a-path-argument"},
		{"a.root", a.Root, filepath.Join(dir, "srv")},
		{"a.chdir", a.Chdir, filepath.Join(etc, "app")},
		{"a.pm_status_listen", a.PMStatusListen, filepath.Join(etc, "status.sock")},
		{"a.slowlog", a.Slowlog, filepath.Join(etc, "log/a.slow")},
		{"a.access_log", a.AccessLog, "/var/log/a.access"},
		{"b.listen", b.Listen, "[::1]:9000"},
		{"b.command[0]", b.Command[0], "sh"},
		{"http.root", cfg.HTTP.Root, filepath.Join(etc, "www")},
		{"http.tls_cert", cfg.HTTP.TLSCert, filepath.Join(etc, "tls/cert.pem")},
		{"http.tls_key", cfg.HTTP.TLSKey, "/etc/ssl/key.pem"},
		{"http.default_pool", cfg.HTTP.DefaultPool, ""}, // two pools: no default
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !a.IsUnix() || b.IsUnix() {
		t.Errorf("IsUnix: a %v, b %v", a.IsUnix(), b.IsUnix())
	}

	// A relative command that does not exist is reported resolved, in the
	// file as the user named it.
	bad := strings.Replace(body, `"bin/hello"`, `"bin/nope"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "etc", "gofpm.toml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load("etc/gofpm.toml", LoadOptions{Euid: 1000})
	want := fmt.Sprintf(`etc/gofpm.toml:6:1: pool "a": command: %q not found`, filepath.Join(etc, "bin/nope"))
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
	if _, err := Load("etc/gofpm.toml", LoadOptions{Euid: 1000, SkipCommandCheck: true}); err != nil {
		t.Errorf("SkipCommandCheck: %v", err)
	}
}

func TestConfigRootRules(t *testing.T) {
	const pool = "[pool.www]\nlisten = \"127.0.0.1:9000\"\ncommand = [\"/bin/sh\"]\npm = \"static\"\npm_max_children = 1\n"
	tests := []struct {
		name      string
		extra     string
		euid      int
		allowRoot bool
		want      string
	}{
		{"root master, no user", "", 0, false, `1:1: pool "www": user has not been defined (a root master needs user = "..." or -R / --allow-to-run-as-root)`},
		{"root master, no user, -R", "", 0, true, ""},
		{"root master, user root", `user = "root"`, 0, false, `6:1: pool "www": please specify user and group other than root`},
		{"root master, user root, -R", `user = "root"`, 0, true, ""},
		{"root master, uid 0", `user = "0"`, 0, false, `6:1: pool "www": please specify user and group other than root`},
		{"root master, user nobody", `user = "nobody"`, 0, false, ""},
		{"root master, numeric user", `user = "4321"`, 0, false, `6:1: pool "www": please specify user and group other than root`},
		{"root master, numeric user and group", "user = \"4321\"\ngroup = \"4321\"", 0, false, ""},
		{"root master, group root", "user = \"nobody\"\ngroup = \"root\"", 0, false, `7:1: pool "www": please specify user and group other than root`},
		{"root master, group root, -R", "user = \"nobody\"\ngroup = \"root\"", 0, true, ""},
		{"root master, unknown user", `user = "no-such-user-gofpm"`, 0, false, `6:1: pool "www": user: unknown user "no-such-user-gofpm"`},
		{"root master, unknown group", "user = \"nobody\"\ngroup = \"no-such-group-gofpm\"", 0, false, `7:1: pool "www": group: unknown group "no-such-group-gofpm"`},
		{"root master, unknown groups", "user = \"nobody\"\ngroups = [\"0\", \"no-such-group-gofpm\"]", 0, false, `7:1: pool "www": groups: unknown group "no-such-group-gofpm"`},
		{"user master, no user", "", 1000, false, ""},
		{"user master, no user, -R", "", 1000, true, ""},
		{"user master, user", `user = "nobody"`, 1000, false, `6:1: pool "www": user: setting a user needs a root master`},
		{"user master, user, -R", `user = "nobody"`, 1000, true, `6:1: pool "www": user: setting a user needs a root master`},
		{"user master, group", `group = "nogroup"`, 1000, false, `6:1: pool "www": group: setting a group needs a root master`},
		{"user master, chroot", `chroot = "/"`, 1000, false, `6:1: pool "www": chroot: chroot needs a root master`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErr(t, pool+tt.extra+"\n", LoadOptions{Euid: tt.euid, AllowRoot: tt.allowRoot})
			if got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestConfigUnknownKey(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"typo of a required key", "[pool.www]\nlistn = \"127.0.0.1:9000\"\ncommand = [\"/bin/sh\"]\npm = \"static\"\npm_max_children = 1\n",
			"1:1: pool \"www\": no listen address has been defined\n" +
				`2:1: unknown key "pool.www.listn" (did you mean "listen"?)`},
		{"wrong case", "LOG_LEVEL = \"debug\"\n", "1:1: unknown key \"LOG_LEVEL\" (did you mean \"log_level\"?)\n" +
			"1:1: no pool has been defined (add a [pool.NAME] table)"},
		{"nothing close", "[http]\nlisten = \"127.0.0.1:80\"\nfrobnicate = 1\n", "1:1: no pool has been defined (add a [pool.NAME] table)\n" +
			`3:1: unknown key "http.frobnicate"`},
		{"quoted key", "\"odd key\" = 1\n[pool.a]\nlisten = \"127.0.0.1:9000\"\ncommand = [\"/bin/sh\"]\npm = \"static\"\npm_max_children = 1\n",
			`1:1: unknown key "\"odd key\""`},
		{"php-fpm dotted name", "[pool.a]\nlisten = \"127.0.0.1:9000\"\ncommand = [\"/bin/sh\"]\npm = \"static\"\npm_max_children = 1\nping.path = \"/ping\"\n",
			`6:1: unknown key "pool.a.ping.path": write ping_path (php-fpm's dotted names become underscores)`},
		{"php-fpm dotted names, two", "[pool.a]\nlisten = \"127.0.0.1:9000\"\ncommand = [\"/bin/sh\"]\npm = \"static\"\npm_max_children = 1\n[pool.a.ping]\npath = \"/ping\"\nrespons = \"ok\"\n",
			"7:1: unknown key \"pool.a.ping.path\": write ping_path (php-fpm's dotted names become underscores)\n" +
				`8:1: unknown key "pool.a.ping.respons" (did you mean "ping_response"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadErr(t, tt.body, LoadOptions{Euid: 1000}); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestConfigSyntaxError(t *testing.T) {
	path := writeConfig(t, "pid = \"x.pid\"\n\n[pool.www]\nlisten = = 3\n")
	_, err := Load(path, LoadOptions{Euid: 1000})
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Errs) != 1 {
		t.Fatalf("got %v, want one *ConfigError", err)
	}
	pe := ce.Errs[0]
	if pe.File != path || pe.Line != 4 || pe.Col != 10 || !strings.HasPrefix(pe.Msg, "invalid TOML: ") {
		t.Errorf("got %+v, want %s:4:10: invalid TOML: ...", pe, path)
	}
}

func TestConfigMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"), LoadOptions{})
	var ce *ConfigError
	if !errors.Is(err, os.ErrNotExist) || errors.As(err, &ce) {
		t.Errorf("got %T %v, want a wrapped fs.ErrNotExist", err, err)
	}
}

// TestConfigAllErrors checks that errors are collected, not stopped at the
// first, and come sorted by position.
func TestConfigAllErrors(t *testing.T) {
	body := `log_level = "loud"

[pool.b]
listen = "127.0.0.1:0"
command = ["/bin/sh"]
pm = "dynamic"
pm_max_children = 2
pm_min_spare_servers = 1
pm_max_spare_servers = 3

[pool.a]
pm = "static"
pm_max_children = -1
worker_concurrency = 0

[http]
listen = "127.0.0.1:8080"
default_pool = "c"
`
	want := `1:1: log_level: unknown level "loud" (debug, notice, warning or error)
4:1: pool "b": listen: invalid port value "0" (1-65535)
9:1: pool "b": pm_min_spare_servers (1) and pm_max_spare_servers (3) cannot be greater than pm_max_children (2)
11:1: pool "a": no listen address has been defined
11:1: pool "a": command has not been defined (worker = "exec" needs the worker program)
13:1: pool "a": pm_max_children must be a positive value
14:1: pool "a": worker_concurrency must be a positive value
18:1: http: default_pool: unknown pool "c"`
	if got := loadErr(t, body, LoadOptions{Euid: 1000}); got != want {
		t.Errorf("error:\n got %s\nwant %s", got, want)
	}
}

func TestConfigPMDefaults(t *testing.T) {
	body := `[pool.d]
listen = "./d.sock"
command = ["/bin/sh"]
pm = "Dynamic"
pm_max_children = 10
pm_min_spare_servers = 2
pm_max_spare_servers = 7
worker_graceful_signal = "usr1"
pm_max_spawn_rate = 4

[http]
listen = "127.0.0.1:0"
index = []
`
	path := writeConfig(t, body)
	cfg, err := Load(path, LoadOptions{Euid: 1000})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Pools["d"]
	if p.PM != "dynamic" || p.PMStartServers != 4 || p.PMMaxSpawnRate != 4 || p.WorkerGracefulSignal != "SIGUSR1" {
		t.Errorf("pm %q, start %d, spawn rate %d, signal %q; want dynamic, 4 (2 + (7-2)/2), 4, SIGUSR1",
			p.PM, p.PMStartServers, p.PMMaxSpawnRate, p.WorkerGracefulSignal)
	}
	if cfg.HTTP.DefaultPool != "d" || len(cfg.HTTP.Index) != 0 || cfg.HTTP.Index == nil {
		t.Errorf("http default_pool %q, index %#v; want the only pool and an empty index", cfg.HTTP.DefaultPool, cfg.HTTP.Index)
	}

	// An explicit 0 is kept where it means something.
	path = writeConfig(t, "process_control_timeout = 0\n"+strings.Replace(body, "pm_max_spawn_rate = 4\n", "listen_backlog = -1\n", 1))
	if cfg, err = Load(path, LoadOptions{Euid: 1000}); err != nil {
		t.Fatal(err)
	}
	if cfg.ProcessControlTimeout != 0 || cfg.Pools["d"].ListenBacklog != -1 || cfg.Pools["d"].PMMaxSpawnRate != 32 {
		t.Errorf("process_control_timeout %v, listen_backlog %d, spawn rate %d; want 0, -1, 32",
			cfg.ProcessControlTimeout.D(), cfg.Pools["d"].ListenBacklog, cfg.Pools["d"].PMMaxSpawnRate)
	}
}

// TestConfigKeyPositions checks the position finder on the TOML forms that
// hide keys: dotted and quoted keys, inline tables over several lines, arrays
// of tables, and strings that look like keys or headers.
func TestConfigKeyPositions(t *testing.T) {
	src := "\ufeff# [not.a.table]\n" + // BOM and a comment
		`top = "a # b" # c = d
'lit.key' = 1
"q\"k".x = 2
s = """
[fake]
fake = 1 """
arr = [ 1, [2, 3],
  { in = 1 }, ]
[pool.www]
  env = { A = "x",
          B.c = "y" }
  a.b.c = 1
[pool.www.sub]
k = '''
''' # done
[[http.route]]
prefix = "/a"
[[http.route]]
 pool = "x"
[http.route.extra]
e = 1
[ "sp ace" . 'x' ]
y = 1
`
	keys := findKeys([]byte(src))
	tests := []struct {
		path      keyPath
		line, col int
	}{
		{keyPath{"top"}, 2, 1},
		{keyPath{"lit.key"}, 3, 1},
		{keyPath{`q"k`}, 4, 1},
		{keyPath{`q"k`, "x"}, 4, 1},
		{keyPath{"s"}, 5, 1},
		{keyPath{"arr"}, 8, 1},
		{keyPath{"arr", "[1]"}, 8, 12},
		{keyPath{"arr", "[2]", "in"}, 9, 5},
		{keyPath{"pool", "www"}, 10, 1},
		{keyPath{"pool"}, 10, 1},
		{keyPath{"pool", "www", "env"}, 11, 3},
		{keyPath{"pool", "www", "env", "A"}, 11, 11},
		{keyPath{"pool", "www", "env", "B", "c"}, 12, 11},
		{keyPath{"pool", "www", "a", "b", "c"}, 13, 3},
		{keyPath{"pool", "www", "a"}, 13, 3},
		{keyPath{"pool", "www", "sub"}, 14, 1},
		{keyPath{"pool", "www", "sub", "k"}, 15, 1},
		{keyPath{"http", "route"}, 17, 1},
		{keyPath{"http", "route", "[0]"}, 17, 1},
		{keyPath{"http", "route", "[0]", "prefix"}, 18, 1},
		{keyPath{"http", "route", "[1]"}, 19, 1},
		{keyPath{"http", "route", "[1]", "pool"}, 20, 2},
		{keyPath{"http", "route", "[1]", "extra", "e"}, 22, 1},
		{keyPath{"sp ace", "x", "y"}, 24, 1},
	}
	for _, tt := range tests {
		p, ok := keys[tt.path.id()]
		if !ok || p.line != tt.line || p.col != tt.col {
			t.Errorf("%q at %d:%d (found %v), want %d:%d", []string(tt.path), p.line, p.col, ok, tt.line, tt.col)
		}
	}
	for _, fake := range []keyPath{{"fake"}, {"not"}, {"c"}, {"b"}} {
		if p, ok := keys[fake.id()]; ok {
			t.Errorf("%q found at %d:%d, but it is not a key", []string(fake), p.line, p.col)
		}
	}
}

func TestConfigErrorFormat(t *testing.T) {
	e := &ConfigError{Errs: []PosError{
		{File: "a.toml", Line: 1, Col: 2, Msg: "first"},
		{File: "a.toml", Line: 3, Col: 4, Msg: "two\nlines"},
	}}
	want := "a.toml:1:2: first\na.toml:3:4: two\\nlines"
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
	if !regexp.MustCompile(`^[^:]+:\d+:\d+: .+$`).MatchString(e.Errs[1].Error()) {
		t.Errorf("%q is not one FILE:LINE:COL: message line", e.Errs[1].Error())
	}
}

func TestConfigSuggest(t *testing.T) {
	known := []string{"listen", "listen_mode", "pm", "pm_max_children", "user"}
	for in, want := range map[string]string{
		"listn": "listen", "LISTEN": "listen", "listen_mod": "listen_mode", "pm_max_childen": "pm_max_children",
		"usr": "user", "x": "", "pn": "pm", "groups": "", "totally_else": "",
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRlimitFilesNrOpen: rlimit_files above fs.nr_open is refused at load,
// not left to fail in every worker's exec step.
func TestRlimitFilesNrOpen(t *testing.T) {
	max := nrOpen()
	if max == 0 {
		t.Skip("no /proc/sys/fs/nr_open")
	}
	path := filepath.Join(t.TempDir(), "pool.toml")
	os.WriteFile(path, []byte(fmt.Sprintf("[pool.www]\nlisten = \"/run/x.sock\"\ncommand = [\"/bin/true\"]\nuser = \"nobody\"\npm = \"static\"\npm_max_children = 1\nrlimit_files = %d\n", max+1)), 0o644)
	_, err := Load(path, LoadOptions{Euid: 0})
	want := fmt.Sprintf("7:1: pool \"www\": rlimit_files (%d) is above the kernel's limit fs.nr_open (%d)", max+1, max)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}
