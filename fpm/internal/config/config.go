// Package config reads a gofpm configuration file (SPEC §3) into resolved
// values: it decodes, fills in defaults, validates, and resolves every value
// the rest of gofpm needs in machine form (uids and gids, file modes,
// signals, IP addresses and prefixes, the network and address of each
// listener), so that no other package parses a configuration string again.
// Every problem is reported with its FILE:LINE:COL.
//
// The files: config.go the types, load.go Load and the errors, decode.go the
// reflection decoder and the TOML forms of Duration, Size and Rlimit,
// defaults.go defaults and paths, validate*.go and identity.go the checks
// (which also resolve), keypos.go the key positions, suggest.go "did you
// mean", signal.go signal names, summary.go the `gofpm check` summary,
// include.go the drop-in files of include, ops.go log_limit, the syslog
// keys and access_suppress_path, teach.go the errors that teach php-fpm's
// spellings (dotted names, [www], an ini file).
package config

// This file holds the configuration types (SPEC §3).

import (
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Duration is a time.Duration that decodes from a TOML string in Go syntax
// ("10s", "500ms"), from an integer or a string of digits meaning seconds
// (php-fpm's habit), or from php-fpm's day suffix ("1d"). Negative durations
// are refused. See UnmarshalTOML in decode.go.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count that decodes from a TOML integer (bytes) or a string
// such as "64MiB", "512KiB", "1GiB", "10MB", "4096". KiB/MiB/GiB/TiB and
// php.ini's K/M/G/T (either case) are powers of 1024; KB/MB/GB/TB are powers
// of 1000. Negative sizes are refused.
type Size int64

// Rlimit is a worker resource limit: a TOML integer >= 0, or "unlimited"
// (also written -1), stored as -1. See UnmarshalTOML in decode.go.
type Rlimit int64

// Config is one gofpm configuration file, as returned by Load: defaults
// applied, relative paths made absolute against Dir, everything validated.
// Empty strings mean "not set" throughout.
type Config struct {
	// Path is the absolute path of the file the config was read from.
	Path string `toml:"-"`
	// Dir is the folder of Path; relative paths in the file are resolved
	// against it while loading.
	Dir string `toml:"-"`

	// Pid is the PID file, written after start and removed on exit. Default: none.
	Pid string `toml:"pid"`
	// ErrorLog is "stderr" (default), "syslog" (php-fpm's value: see the
	// syslog keys below) or a file path.
	ErrorLog string `toml:"error_log"`
	// LogLevel is debug | notice | warning | error (default notice), in
	// lower case after loading; php-fpm's alias "warn" becomes "warning".
	LogLevel string `toml:"log_level"`
	// EmergencyRestartThreshold: this many abnormal child exits within
	// EmergencyRestartInterval trigger a graceful reload. 0 = off (default).
	// A threshold without an interval is an error (php-fpm silently ignores it).
	EmergencyRestartThreshold int      `toml:"emergency_restart_threshold"`
	EmergencyRestartInterval  Duration `toml:"emergency_restart_interval"`
	// ProcessControlTimeout bounds how long children get to react to a
	// graceful signal before SIGKILL. Default 10s when the key is absent
	// (php-fpm: 0); an explicit 0 is kept and means no grace at all.
	ProcessControlTimeout Duration `toml:"process_control_timeout"`

	// Operator habits (issue 17): drop-in files, log_limit, syslog.

	// Include are glob patterns (relative to Dir) of drop-in files that
	// hold [pool.NAME] tables and nothing else, read in glob order after
	// this file, as php-fpm's include = pool.d/*.conf. A pattern that
	// matches nothing is not an error (php-fpm only warns). Relative paths
	// inside an included file are resolved against Dir too.
	Include []string `toml:"include"`
	// Included lists the files the patterns matched, in the order read
	// (as Load was given them: relative to the config path's folder).
	Included []string `toml:"-"`
	// LogLimit is php-fpm's log_limit: the longest line, in bytes, of a
	// worker's output logged in one piece (longer lines are wrapped).
	// Default 1024; at least 512 (php-fpm).
	LogLimit int `toml:"log_limit"`
	// SyslogFacility and SyslogIdent are php-fpm's syslog.facility and
	// syslog.ident, used when ErrorLog is "syslog": facility one of auth,
	// authpriv, cron, daemon (default), ftp, kern, lpr, mail, news, syslog,
	// user, uucp, local0-local7 (any case, stored in lower case); ident
	// default "gofpm".
	SyslogFacility string `toml:"syslog_facility"`
	SyslogIdent    string `toml:"syslog_ident"`
	// SyslogAddress is the Unix datagram socket of the syslog daemon
	// (default "/dev/log", where syslog(3) writes); php-fpm has no such key.
	// A relative path is resolved against Dir.
	SyslogAddress string `toml:"syslog_address"`

	// Pools by name; PoolOrder lists the names in the order they first
	// appear in the file. At least one pool is required. Pool names use
	// letters, digits, "_", "-" and "." only.
	Pools     map[string]*Pool `toml:"pool"`
	PoolOrder []string         `toml:"-"`

	// HTTP is the optional built-in HTTP front; nil when [http] is absent.
	HTTP *HTTP `toml:"http"`

	// Monitoring (monitor.go): metrics_listen and systemd_interval.

	// MetricsListen is "host:port" of the master's own Prometheus
	// /metrics server, without the HTTP front (SPEC: 127.0.0.1:9253 in
	// the examples). Empty (default): off.
	MetricsListen string `toml:"metrics_listen"`
	// SystemdInterval is php-fpm's systemd_interval: how often the master
	// sends its STATUS= line to systemd (with WATCHDOG_USEC set, half of
	// that is used instead). Default 10s; 0 turns the heartbeat off.
	SystemdInterval Duration `toml:"systemd_interval"`
	// MetricsAddr is MetricsListen resolved (zero when unset).
	MetricsAddr Addr `toml:"-"`
}

// Pool is one [pool.NAME] table. Defaults are php-fpm's unless noted.
type Pool struct {
	// Name is the NAME of [pool.NAME].
	Name string `toml:"-"`

	// Listen is required. A value containing "/" or starting with "unix:" is
	// a Unix socket path: "unix:" is stripped and a relative path resolved,
	// so after Load it is absolute (at most 107 bytes). Write "./www.sock",
	// not "www.sock". Otherwise it is "host:port", "[v6]:port" or php-fpm's
	// bare "9000", which Load turns into ":9000" (all addresses). Ports are
	// numeric, 1-65535. Two pools may not share an address.
	Listen        string `toml:"listen"`
	ListenBacklog int    `toml:"listen_backlog"` // default 511 when absent; -1 = the kernel maximum (php-fpm's default)
	// Unix-socket settings; like php-fpm they are ignored on TCP, but names
	// must resolve (a name or a number).
	ListenOwner     string   `toml:"listen_owner"`      // socket owner; default the master's user
	ListenGroup     string   `toml:"listen_group"`      // socket group; default the owner's group
	ListenMode      string   `toml:"listen_mode"`       // octal string ("0660", "660", "0o660"), default "0660"
	ListenACLUsers  []string `toml:"listen_acl_users"`  // POSIX ACL users
	ListenACLGroups []string `toml:"listen_acl_groups"` // POSIX ACL groups
	// ListenAllowedClients are exact IP addresses (no CIDR); TCP only, ignored
	// on a Unix socket like php-fpm.
	ListenAllowedClients []string `toml:"listen_allowed_clients"`

	// User, Group and Groups (names or numbers) need a root master. A root
	// master requires User unless -R, and refuses uid/gid 0 unless -R
	// (php-fpm). A non-root master refuses them (php-fpm only warns).
	User   string   `toml:"user"`
	Group  string   `toml:"group"`  // default: the user's primary group
	Groups []string `toml:"groups"` // supplementary groups; default none (dropped)

	Worker string `toml:"worker"` // "exec" (default) | "php" | "cgi"
	// Command is the argv of the worker program; required for exec. A
	// command[0] with a "/" is resolved against the config folder; Load
	// checks it with exec.LookPath (not with a chroot). Other arguments are
	// left alone.
	Command []string `toml:"command"`
	Root    string   `toml:"root"` // document root (cgi bridge, HTTP front); not checked
	// Chdir must be an existing folder. Without Chroot a relative Chdir is
	// resolved against the config folder; with Chroot it must be absolute
	// and is checked inside the chroot.
	Chdir    string            `toml:"chdir"`
	Chroot   string            `toml:"chroot"`    // absolute, an existing folder, root master only
	ClearEnv *bool             `toml:"clear_env"` // default true; use ClearEnvOn()
	Env      map[string]string `toml:"env"`       // values must not be empty (php-fpm); "$VAR" copies the master's variable

	// PM is required (php-fpm): static | dynamic | ondemand, lower case
	// after Load.
	PM            string `toml:"pm"`
	PMMaxChildren int    `toml:"pm_max_children"` // required, >= 1
	// PMStartServers (dynamic) defaults to min + (max - min)/2 of the spare
	// servers when absent or 0, and must lie in [min, max] (php-fpm).
	PMStartServers       int      `toml:"pm_start_servers"`
	PMMinSpareServers    int      `toml:"pm_min_spare_servers"`    // required for dynamic, >= 1, <= max_children
	PMMaxSpareServers    int      `toml:"pm_max_spare_servers"`    // required for dynamic, >= min, <= max_children
	PMMaxSpawnRate       int      `toml:"pm_max_spawn_rate"`       // default 32 when absent; >= 1
	PMProcessIdleTimeout Duration `toml:"pm_process_idle_timeout"` // default 10s when absent; > 0
	PMMaxRequests        int      `toml:"pm_max_requests"`         // default 0 = unlimited; >= 0
	PMMaxRequestsJitter  int      `toml:"pm_max_requests_jitter"`  // default 0; >= 0
	// PMStatusPath and PingPath follow php-fpm: start with "/", at least two
	// characters (the status path may be "/" with pm_status_listen), only
	// [alphanum]/_-.~; they must differ.
	PMStatusPath string `toml:"pm_status_path"`
	// PMStatusListen is a listen address like Listen (normalised the same
	// way); it needs PMStatusPath.
	PMStatusListen string `toml:"pm_status_listen"`
	PingPath       string `toml:"ping_path"`
	PingResponse   string `toml:"ping_response"` // default "pong" (also when empty)

	RequestTerminateTimeout Duration `toml:"request_terminate_timeout"` // 0 = off
	// RequestSlowlogTimeout (0 = off) needs Slowlog, and may not exceed
	// RequestTerminateTimeout when that is set (php-fpm).
	RequestSlowlogTimeout Duration `toml:"request_slowlog_timeout"`
	Slowlog               string   `toml:"slowlog"`
	AccessLog             string   `toml:"access_log"`
	// AccessFormat defaults to `%R - %u %t "%m %r" %s` and is checked against
	// php-fpm's tokens (%C %d %e %f %l %m %M %n %o %p %P %q %Q %r %R %s %t %T
	// %u %%, with the %{arg} forms php-fpm accepts).
	AccessFormat string `toml:"access_format"`
	// AccessSuppressPath is php-fpm's access.suppress_path[]: request paths
	// (%r, exactly; each starts with "/") whose line is left out of the
	// access log when the answer is 2xx to a GET or HEAD without a query
	// string or a body, so health probes do not fill the log.
	AccessSuppressPath []string `toml:"access_suppress_path"`

	CatchWorkersOutput    bool  `toml:"catch_workers_output"`    // default false
	DecorateWorkersOutput *bool `toml:"decorate_workers_output"` // default true; use DecorateOn()

	// Rlimits of the workers (soft and hard). RlimitFiles 0 keeps the
	// system's limit; RlimitCore nil (absent) keeps it, so rlimit_core = 0
	// means no core files. A non-root master refuses values above its hard
	// limits and a negative ProcessPriority.
	RlimitFiles     int     `toml:"rlimit_files"`     // >= 0
	RlimitCore      *Rlimit `toml:"rlimit_core"`      // >= 0 or -1 ("unlimited")
	ProcessPriority int     `toml:"process_priority"` // nice value -19..20; 0 = unchanged

	SecurityLimitExtensions []string `toml:"security_limit_extensions"` // each starts with "."
	WorkerMaxMemory         Size     `toml:"worker_max_memory"`         // 0 = off
	WorkerConcurrency       int      `toml:"worker_concurrency"`        // default 1 when absent; >= 1
	// WorkerGracefulSignal defaults to "SIGQUIT". "quit", "QUIT" and
	// "sigquit" are accepted and stored as "SIGQUIT"; SIGKILL and SIGSTOP are
	// refused (they cannot be graceful).
	WorkerGracefulSignal string `toml:"worker_graceful_signal"`

	// Dispatch (dispatch.go): who accepts the pool's connections. "socket":
	// the workers, on the shared socket; "master": the master, which hands
	// each request to an idle worker over the worker's private socket.
	Dispatch            string   `toml:"dispatch"`              // "socket" | "master"; default in dispatch.go
	PMMaxQueue          int      `toml:"pm_max_queue"`          // dispatch = master: requests that may wait; default 511; >= 0
	RequestQueueTimeout Duration `toml:"request_queue_timeout"` // dispatch = master: longest wait; 0 = no limit

	// php-fpm's PHP settings, for php-cgi pools (IsPHPCGI): passed to
	// php-cgi as -d options, admin ones last (see PHPArgs). Names are PHP
	// ini names; a php_value is written as in php.ini.
	PHPValue      PHPValues `toml:"php_value"`
	PHPAdminValue PHPValues `toml:"php_admin_value"`
	PHPFlag       PHPFlags  `toml:"php_flag"`
	PHPAdminFlag  PHPFlags  `toml:"php_admin_flag"`

	// Resolved by Load from the strings above (nothing else parses them).

	// ListenAddr is Listen; StatusAddr is PMStatusListen (zero when unset).
	ListenAddr Addr `toml:"-"`
	StatusAddr Addr `toml:"-"`
	// ListenPerm is ListenMode (default 0660).
	ListenPerm os.FileMode `toml:"-"`
	// ListenOwnerUID and ListenOwnerGID are listen_owner's uid and primary
	// gid (-1 when a number has no passwd entry); ListenGroupGID is
	// listen_group's gid. Each is meaningful only when its key is set.
	ListenOwnerUID, ListenOwnerGID, ListenGroupGID int `toml:"-"`
	// ListenACLUIDs and ListenACLGIDs are listen_acl_users and
	// listen_acl_groups, in order.
	ListenACLUIDs, ListenACLGIDs []uint32 `toml:"-"`
	// AllowedClients is ListenAllowedClients.
	AllowedClients []netip.Addr `toml:"-"`
	// Identity is User, Group and Groups resolved, for a root master; nil
	// when the pool sets no user (or the master is not root).
	Identity *Identity `toml:"-"`
	// GracefulSignal is WorkerGracefulSignal (default SIGQUIT).
	GracefulSignal unix.Signal `toml:"-"`
	// PHPArgs are the -d options a php-cgi pool appends to its command:
	// "-d", "cgi.fix_pathinfo=0" unless the pool sets that name, then the
	// php_value, php_flag, php_admin_value and php_admin_flag settings in
	// that order (php-cgi keeps the last of a name), each sorted by name.
	PHPArgs []string `toml:"-"`
}

// Addr is a resolved listen address.
type Addr struct {
	Network string // "unix" or "tcp"; empty when the address is unset
	// Address is what is bound: the socket path, or "host:port" as
	// written (":9000" listens on every address).
	Address string
	// Dial is where a client on this machine connects: Address, with an
	// empty host made "127.0.0.1".
	Dial string
}

// Identity is who a pool's workers run as.
type Identity struct {
	UID, GID uint32
	Groups   []uint32 // the supplementary groups: exactly these (none when empty)
	// Name and Home are the user's name and home folder (USER and HOME);
	// a number without a passwd entry is its own name, with home "/".
	Name, Home string
}

// ClearEnvOn reports whether clear_env is on (the default).
func (p *Pool) ClearEnvOn() bool { return p.ClearEnv == nil || *p.ClearEnv }

// DecorateOn reports whether decorate_workers_output is on (the default).
func (p *Pool) DecorateOn() bool {
	return p.DecorateWorkersOutput == nil || *p.DecorateWorkersOutput
}

// IsUnix reports whether Listen names a Unix socket path.
func (p *Pool) IsUnix() bool { return p.ListenAddr.Network == "unix" }

// HTTP is the [http] table: the built-in HTTP front.
type HTTP struct {
	Listen string   `toml:"listen"` // required, "host:port" ("127.0.0.1:8080"); not shared with a pool
	Root   string   `toml:"root"`
	Index  []string `toml:"index"` // default ["index.php"] when absent; an explicit [] is kept
	// DefaultPool must name a pool. It defaults to the only pool when there
	// is exactly one; otherwise unset means no default.
	DefaultPool string `toml:"default_pool"`
	// TLSCert and TLSKey are set together or not at all (not checked for
	// existence by Load).
	TLSCert string      `toml:"tls_cert"`
	TLSKey  string      `toml:"tls_key"`
	Routes  []HTTPRoute `toml:"route"` // [[http.route]] tables; prefixes are unique

	// Limits and timeouts, with nginx's names in the comments. Zero values
	// mean the defaults, filled in by Load.
	ReadHeaderTimeout Duration `toml:"read_header_timeout"` // client_header_timeout; default 10s; a client slower than this is disconnected
	IdleTimeout       Duration `toml:"idle_timeout"`        // keepalive_timeout; default 75s
	ConnectTimeout    Duration `toml:"connect_timeout"`     // fastcgi_connect_timeout; default 5s, then 504
	// ReadTimeout bounds the wait for the response header from the worker
	// (fastcgi_read_timeout, but only until the header: a stream that has
	// started, such as server-sent events, is not cut); default 60s, then 504.
	ReadTimeout    Duration `toml:"read_timeout"`
	MaxHeaderBytes Size     `toml:"max_header_bytes"` // large_client_header_buffers; default 64KiB, then 431
	// MaxBodyBytes is client_max_body_size: default 8MiB (php's
	// post_max_size), then 413. A chunked body is buffered up to this size,
	// since the worker must be told CONTENT_LENGTH.
	MaxBodyBytes Size `toml:"max_body_bytes"`
	// TrustedProxies are IP addresses or CIDR prefixes whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed: REMOTE_ADDR
	// becomes the last address in X-Forwarded-For that is not itself
	// trusted (nginx's real_ip_recursive on). Empty: the headers are passed
	// to the worker as they are and REMOTE_ADDR is the peer.
	TrustedProxies []string `toml:"trusted_proxies"`
	// TrustedPrefixes is TrustedProxies resolved (see ParseTrusted).
	TrustedPrefixes []netip.Prefix `toml:"-"`

	// The front as a PHP host (docs/security.md, "HTTP front"): every
	// default below is the safe one, and each is changed only by its own
	// key.

	// ServerName is SERVER_NAME for the pools, whatever Host header the
	// client sends. Default: the host of Listen; for a wildcard listen
	// ("0.0.0.0:8080", "[::]:8080", ":8080") the machine's host name.
	ServerName string `toml:"server_name"`
	// PagesAllow are IP addresses or CIDR prefixes of the clients that may
	// see the status page, the dashboard and the metrics through the front
	// (the client behind trusted_proxies); others get 403. Default
	// loopback: ["127.0.0.0/8", "::1/128"]; an explicit [] allows nobody.
	PagesAllow []string `toml:"pages_allow"`
	// PagesAllowPrefixes is PagesAllow resolved (see ParseTrusted).
	PagesAllowPrefixes []netip.Prefix `toml:"-"`
	// MetricsPath is where the front answers Prometheus metrics; unset
	// (default): the front has no metrics page and the path goes to the
	// pools like any other.
	MetricsPath string `toml:"metrics_path"`
	// ServeDotfiles lets the front serve, and pass to script pools, paths
	// with a part starting with "." (.env, .git/, .htpasswd). Default
	// false: 404, except under /.well-known/.
	ServeDotfiles bool `toml:"serve_dotfiles"`
	// FollowSymlinksOutsideRoot lets the front follow symbolic links under
	// root whose target is outside root, for static files and scripts.
	// Default false: such a path is answered 404.
	FollowSymlinksOutsideRoot bool `toml:"follow_symlinks_outside_root"`

	HTTPBuffers // bodies and answers buffered, slow clients (http_buffers.go)
}

// HTTPRoute sends requests whose path starts with Prefix ("/...") to Pool,
// which must exist.
type HTTPRoute struct {
	Prefix string `toml:"prefix"`
	Pool   string `toml:"pool"`
}
