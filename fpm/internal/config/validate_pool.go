package config

// Validation of one [pool.NAME] table and its process manager.

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// validatePool checks one pool; set holds the keys the file sets.
func (l *loader) validatePool(p *Pool, set map[string]bool) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	at := func(key string) keyPath { return keyPath{"pool", p.Name, key} }
	header := keyPath{"pool", p.Name}

	if !validPoolName(p.Name) {
		l.errAt(header, "%sinvalid pool name (use letters, digits, \"_\", \"-\" and \".\")", pre)
	}

	// listen and the socket settings. Like php-fpm, the unix-only settings
	// (owner, group, mode, ACLs) are ignored on TCP and listen_allowed_clients
	// on a unix socket, but their values must still be valid.
	switch {
	case !set["listen"] && p.Listen == "":
		l.errAt(header, "%sno listen address has been defined", pre)
	case p.Listen == "":
		l.errAt(at("listen"), "%slisten: the address is empty", pre)
	default:
		if msg := checkListen(p.Listen, false); msg != "" {
			l.errAt(at("listen"), "%slisten: %s", pre, msg)
		} else {
			p.ListenAddr = resolveListen(p.Listen)
		}
	}
	if p.ListenBacklog < -1 {
		l.errAt(at("listen_backlog"), "%slisten_backlog (%d) must be -1 (the system maximum) or more", pre, p.ListenBacklog)
	}
	if m, err := strconv.ParseUint(strings.TrimPrefix(p.ListenMode, "0o"), 8, 32); err != nil || m > 0o7777 {
		l.errAt(at("listen_mode"), "%slisten_mode: %q is not an octal mode such as \"0660\"", pre, p.ListenMode)
	} else {
		p.ListenPerm = os.FileMode(m)
	}
	for _, c := range p.ListenAllowedClients {
		if a, err := netip.ParseAddr(c); err != nil || a.Zone() != "" { // exact addresses: no CIDR, no zone
			l.errAt(at("listen_allowed_clients"), "%slisten_allowed_clients: %q is not an IP address", pre, c)
		} else {
			p.AllowedClients = append(p.AllowedClients, a)
		}
	}
	if p.ListenOwner != "" {
		if u, ok := lookupUser(p.ListenOwner); !ok {
			l.errAt(at("listen_owner"), "%slisten_owner: unknown user %q", pre, p.ListenOwner)
		} else {
			p.ListenOwnerUID, p.ListenOwnerGID = u.uid, u.gid
		}
	}
	if p.ListenGroup != "" {
		if gid, ok := lookupGroup(p.ListenGroup); !ok {
			l.errAt(at("listen_group"), "%slisten_group: unknown group %q", pre, p.ListenGroup)
		} else {
			p.ListenGroupGID = gid
		}
	}
	for _, u := range p.ListenACLUsers {
		if a, ok := lookupUser(u); !ok {
			l.errAt(at("listen_acl_users"), "%slisten_acl_users: unknown user %q", pre, u)
		} else {
			p.ListenACLUIDs = append(p.ListenACLUIDs, uint32(a.uid))
		}
	}
	for _, g := range p.ListenACLGroups {
		if gid, ok := lookupGroup(g); !ok {
			l.errAt(at("listen_acl_groups"), "%slisten_acl_groups: unknown group %q", pre, g)
		} else {
			p.ListenACLGIDs = append(p.ListenACLGIDs, uint32(gid))
		}
	}

	l.validateIdentity(p)
	l.validatePHP(p)

	// The worker program.
	switch p.Worker {
	case "exec", "php":
		if len(p.Command) == 0 {
			if set["command"] {
				l.errAt(at("command"), "%scommand is empty (worker = %q needs the worker program)", pre, p.Worker)
			} else {
				l.errAt(header, "%scommand has not been defined (worker = %q needs the worker program)", pre, p.Worker)
			}
		}
		if p.Worker == "php" {
			l.validatePHPFork(p)
		}
	case "cgi":
	default:
		l.errAt(at("worker"), "%sworker: unknown worker %q (exec, php or cgi)", pre, p.Worker)
	}
	if len(p.Command) > 0 {
		switch {
		case p.Command[0] == "":
			l.errAt(at("command"), "%scommand: the program name is empty", pre)
		case !l.opts.SkipCommandCheck && p.Chroot == "":
			if _, err := exec.LookPath(p.Command[0]); err != nil {
				var what string
				switch {
				case errors.Is(err, exec.ErrDot):
					what = "is in the current directory; write it as a path (\"./NAME\")"
				case errors.Is(err, fs.ErrPermission):
					what = "is not executable"
				case strings.Contains(p.Command[0], "/"):
					what = "not found"
				default:
					what = "not found in $PATH"
				}
				l.errAt(at("command"), "%scommand: %q %s", pre, p.Command[0], what)
			}
		}
	}
	if p.Chroot != "" {
		if !filepath.IsAbs(p.Chroot) {
			l.errAt(at("chroot"), "%schroot: %q must be an absolute path", pre, p.Chroot)
		} else if !isDir(p.Chroot) {
			l.errAt(at("chroot"), "%schroot: %q is not a directory", pre, p.Chroot)
		} else if p.Worker == "cgi" {
			l.errAt(at("chroot"), "%schroot: the CGI bridge (worker = \"cgi\") cannot run inside a chroot", pre)
		} else if len(p.Command) > 0 && p.Command[0] != "" && !l.opts.SkipCommandCheck && l.opts.Euid == 0 {
			if _, err := LookPathIn(p.Chroot, p.Command[0]); err != nil {
				l.errAt(at("command"), "%scommand: %v", pre, err)
			}
		}
	}
	if p.Chdir != "" {
		switch inside := filepath.Join(p.Chroot, p.Chdir); {
		case p.Chroot == "":
			if !isDir(p.Chdir) {
				l.errAt(at("chdir"), "%schdir: %q is not a directory", pre, p.Chdir)
			}
		case !filepath.IsAbs(p.Chdir):
			l.errAt(at("chdir"), "%schdir: %q must be an absolute path inside chroot", pre, p.Chdir)
		case filepath.IsAbs(p.Chroot) && isDir(p.Chroot) && !isDir(inside):
			l.errAt(at("chdir"), "%schdir: %q is not a directory", pre, inside)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			l.errAt(at("env").add(k), "%senv: invalid variable name %q", pre, k)
		} else if p.Env[k] == "" {
			l.errAt(at("env").add(k), "%senv.%s is empty", pre, keyString(keyPath{k}))
		} else if strings.Contains(p.Env[k], "\x00") {
			l.errAt(at("env").add(k), "%senv.%s holds a NUL byte", pre, keyString(keyPath{k}))
		}
	}

	l.validatePM(p, set)
	l.validateDispatch(p, at)

	// Status and ping pages.
	if p.PMStatusPath != "" {
		l.checkPagePath(p.PMStatusPath, p.PMStatusListen != "", at("pm_status_path"), pre+"pm_status_path")
	}
	if p.PingPath != "" {
		l.checkPagePath(p.PingPath, false, at("ping_path"), pre+"ping_path")
		if p.PingPath == p.PMStatusPath {
			l.errAt(at("ping_path"), "%sping_path %q is the same as pm_status_path", pre, p.PingPath)
		}
	}
	if p.PMStatusListen != "" {
		if msg := checkListen(p.PMStatusListen, false); msg != "" {
			l.errAt(at("pm_status_listen"), "%spm_status_listen: %s", pre, msg)
		} else {
			p.StatusAddr = resolveListen(p.PMStatusListen)
		}
		if p.PMStatusPath == "" {
			l.errAt(at("pm_status_listen"), "%spm_status_listen needs pm_status_path", pre)
		}
	}

	// Timeouts and logs.
	if p.RequestSlowlogTimeout > 0 {
		if p.Slowlog == "" {
			l.errAt(at("request_slowlog_timeout"), "%sslowlog must be specified for use with request_slowlog_timeout", pre)
		}
		if p.RequestTerminateTimeout > 0 && p.RequestSlowlogTimeout > p.RequestTerminateTimeout {
			l.errAt(at("request_slowlog_timeout"), "%srequest_slowlog_timeout (%s) can't be greater than request_terminate_timeout (%s)",
				pre, p.RequestSlowlogTimeout.D(), p.RequestTerminateTimeout.D())
		}
	}
	if msg := checkAccessFormat(p.AccessFormat); msg != "" {
		l.errAt(at("access_format"), "%saccess_format: %s", pre, msg)
	}

	// Limits and the worker protocol.
	if p.RlimitFiles < 0 {
		l.errAt(at("rlimit_files"), "%srlimit_files (%d) must not be negative", pre, p.RlimitFiles)
	} else if max := nrOpen(); p.RlimitFiles > 0 && max > 0 && int64(p.RlimitFiles) > max {
		// Not even root may go beyond the kernel's fs.nr_open: the worker
		// exec step would fail on every spawn.
		l.errAt(at("rlimit_files"), "%srlimit_files (%d) is above the kernel's limit fs.nr_open (%d)", pre, p.RlimitFiles, max)
	}
	if p.ProcessPriority < -19 || p.ProcessPriority > 20 {
		l.errAt(at("process_priority"), "%sprocess_priority (%d) must be between -19 and 20", pre, p.ProcessPriority)
	}
	for _, e := range p.SecurityLimitExtensions {
		if !strings.HasPrefix(e, ".") || len(e) < 2 {
			l.errAt(at("security_limit_extensions"), "%ssecurity_limit_extensions: %q must start with a \".\"", pre, e)
		}
	}
	if p.WorkerConcurrency < 1 {
		l.errAt(at("worker_concurrency"), "%sworker_concurrency must be a positive value", pre)
	}
	switch sig, err := ParseSignal(p.WorkerGracefulSignal); {
	case err != nil:
		l.errAt(at("worker_graceful_signal"), "%sworker_graceful_signal: unknown signal %q", pre, p.WorkerGracefulSignal)
	case sig == unix.SIGKILL || sig == unix.SIGSTOP:
		l.errAt(at("worker_graceful_signal"), "%sworker_graceful_signal: %s cannot be caught, so it is not graceful", pre, canonicalSignal(p.WorkerGracefulSignal))
	default:
		p.WorkerGracefulSignal, p.GracefulSignal = canonicalSignal(p.WorkerGracefulSignal), sig
	}
}

// validatePM checks pm and its numbers in php-fpm's order (fpm_conf.c).
func (l *loader) validatePM(p *Pool, set map[string]bool) {
	pre := fmt.Sprintf("pool %q: ", p.Name)
	at := func(key string) keyPath { return keyPath{"pool", p.Name, key} }
	header := keyPath{"pool", p.Name}

	switch p.PM {
	case "static", "dynamic", "ondemand":
	case "":
		if set["pm"] {
			l.errAt(at("pm"), "%sthe process manager is missing (static, dynamic or ondemand)", pre)
		} else {
			l.errAt(header, "%sthe process manager is missing (static, dynamic or ondemand)", pre)
		}
	default:
		l.errAt(at("pm"), "%spm: unknown process manager %q (static, dynamic or ondemand)", pre, p.PM)
	}
	childrenOK := p.PMMaxChildren >= 1
	switch {
	case !set["pm_max_children"]:
		l.errAt(header, "%spm_max_children has not been defined", pre)
	case !childrenOK:
		l.errAt(at("pm_max_children"), "%spm_max_children must be a positive value", pre)
	}
	if p.PM == "dynamic" {
		spareOK := true
		for _, k := range []struct {
			key string
			v   int
		}{{"pm_min_spare_servers", p.PMMinSpareServers}, {"pm_max_spare_servers", p.PMMaxSpareServers}} {
			switch {
			case !set[k.key]:
				l.errAt(header, "%s%s has not been defined (pm = \"dynamic\" needs it)", pre, k.key)
				spareOK = false
			case k.v <= 0:
				l.errAt(at(k.key), "%s%s (%d) must be a positive value", pre, k.key, k.v)
				spareOK = false
			}
		}
		switch {
		case !spareOK:
		case childrenOK && (p.PMMinSpareServers > p.PMMaxChildren || p.PMMaxSpareServers > p.PMMaxChildren):
			key := "pm_max_spare_servers"
			if p.PMMinSpareServers > p.PMMaxChildren {
				key = "pm_min_spare_servers"
			}
			l.errAt(at(key), "%spm_min_spare_servers (%d) and pm_max_spare_servers (%d) cannot be greater than pm_max_children (%d)",
				pre, p.PMMinSpareServers, p.PMMaxSpareServers, p.PMMaxChildren)
		case p.PMMaxSpareServers < p.PMMinSpareServers:
			l.errAt(at("pm_max_spare_servers"), "%spm_max_spare_servers (%d) must not be less than pm_min_spare_servers (%d)",
				pre, p.PMMaxSpareServers, p.PMMinSpareServers)
		case p.PMStartServers < p.PMMinSpareServers || p.PMStartServers > p.PMMaxSpareServers:
			l.errAt(at("pm_start_servers"), "%spm_start_servers (%d) must not be less than pm_min_spare_servers (%d) and not greater than pm_max_spare_servers (%d)",
				pre, p.PMStartServers, p.PMMinSpareServers, p.PMMaxSpareServers)
		}
	}
	if p.PMMaxSpawnRate < 1 {
		l.errAt(at("pm_max_spawn_rate"), "%spm_max_spawn_rate must be a positive value", pre)
	}
	if p.PMProcessIdleTimeout <= 0 {
		l.errAt(at("pm_process_idle_timeout"), "%spm_process_idle_timeout (%s) must be greater than 0s", pre, p.PMProcessIdleTimeout.D())
	}
	if p.PMMaxRequests < 0 {
		l.errAt(at("pm_max_requests"), "%spm_max_requests (%d) must not be negative", pre, p.PMMaxRequests)
	}
	if p.PMMaxRequestsJitter < 0 {
		l.errAt(at("pm_max_requests_jitter"), "%spm_max_requests_jitter (%d) must not be negative", pre, p.PMMaxRequestsJitter)
	}
}

// LookPathIn finds the program name inside the folder root as exec.LookPath
// would after a chroot there, and returns its path inside root. A name with
// a "/" must be absolute; a bare name is looked up in the master's $PATH.
func LookPathIn(root, name string) (string, error) {
	isExec := func(p string) bool {
		fi, err := os.Stat(filepath.Join(root, p))
		return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
	}
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return "", fmt.Errorf("%q must be an absolute path inside the chroot %s", name, root)
		}
		if !isExec(name) {
			return "", fmt.Errorf("%q not found (or not executable) inside the chroot %s", name, root)
		}
		return name, nil
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if filepath.IsAbs(d) && isExec(filepath.Join(d, name)) {
			return filepath.Join(d, name), nil
		}
	}
	return "", fmt.Errorf("%q not found in $PATH inside the chroot %s", name, root)
}
