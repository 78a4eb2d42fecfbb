package fpm

// What `gofpm check` adds to the configuration test: whether each pool's
// address can be bound now, and (--as USER) whether a given user, a web
// server's, could connect to each pool's Unix socket. Both read the live
// system but change nothing: no socket file is removed or replaced, a TCP
// address is bound and closed at once without listen().

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"golang.org/x/sys/unix"
)

// CheckSockets checks every pool's listen address (and pm_status_listen):
// that its directory exists and is writable, that nothing else listens
// there (a process holding it is named by pid; the running master of this
// configuration, found through its pid file, is fine: a reload takes its
// sockets over; so is systemd holding it for socket activation), and that ACLs are supported where they are asked for.
// With users, it also tells whether each of them could connect to each
// Unix socket, from listen_owner/group/mode/ACLs and the search permission
// of every directory above it, with the fix for each problem. It returns
// one line per finding and false if any is an error.
func CheckSockets(cfg *Config, users []string) (lines []string, ok bool) {
	ok = true
	running := pidFromFile(cfg.Pid)
	type target struct {
		pc     *PoolConfig
		listen string
		isUnix bool
	}
	var targets []target
	for _, name := range cfg.PoolOrder {
		pc := cfg.Pools[name]
		targets = append(targets, target{pc, pc.Listen, pc.ListenAddr.Network == "unix"})
		if pc.PMStatusListen != "" {
			targets = append(targets, target{pc, pc.PMStatusListen, pc.StatusAddr.Network == "unix"})
		}
	}
	for _, t := range targets {
		for _, l := range checkBind(t.pc, t.listen, t.isUnix, running) {
			lines = append(lines, fmt.Sprintf("pool %q: %s", t.pc.Name, l.text))
			ok = ok && l.ok
		}
	}
	for _, name := range users {
		u, err := config.LookupUser(name)
		if err != nil {
			lines = append(lines, fmt.Sprintf("--as %s: unknown user", name))
			ok = false
			continue
		}
		for _, t := range targets {
			if !t.isUnix {
				lines = append(lines, fmt.Sprintf("pool %q: %s is TCP; --as applies to Unix sockets (see listen_allowed_clients)", t.pc.Name, t.listen))
				continue
			}
			problems, err := userCanConnect(t.pc, t.listen, u)
			switch {
			case err != nil:
				lines = append(lines, fmt.Sprintf("pool %q: user %s: %v", t.pc.Name, u.Username, err))
				ok = false
			case len(problems) == 0:
				lines = append(lines, fmt.Sprintf("pool %q: user %s can connect to %s", t.pc.Name, u.Username, t.listen))
			default:
				for _, p := range problems {
					lines = append(lines, fmt.Sprintf("pool %q: user %s cannot connect to %s: %s", t.pc.Name, u.Username, t.listen, p))
				}
				ok = false
			}
		}
	}
	return lines, ok
}

type checkLine struct {
	text string
	ok   bool
}

// pidFromFile reads a pid file; 0 when there is none.
func pidFromFile(path string) int {
	if path == "" {
		return 0
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// checkBind tells whether listen (a Unix socket path if isUnix) could be
// bound by a master starting now.
func checkBind(pc *PoolConfig, listen string, isUnix bool, running int) []checkLine {
	inUse := func(err error) []checkLine {
		var iu *inUseError
		switch {
		case errors.As(err, &iu) && running != 0 && iu.holder.pid == running:
			return []checkLine{{fmt.Sprintf("listen %q: held by the running master of this configuration (pid %d); a reload takes it over", listen, running), true}}
		case errors.As(err, &iu) && running != 0 && iu.holder.pid == 0 && unix.Kill(running, 0) != unix.ESRCH:
			// Run as a user who cannot read the master's /proc/PID/fd.
			return []checkLine{{fmt.Sprintf("warning: listen %q: in use by a process this user cannot see; the running master of this configuration (pid %d) probably holds it, and a reload takes it over", listen, running), true}}
		case errors.As(err, &iu) && iu.holder.comm == "systemd":
			return []checkLine{{fmt.Sprintf("listen %q: held by systemd (pid %d) for socket activation; the master is handed it, with the permissions of the .socket unit", listen, iu.holder.pid), true}}
		}
		return []checkLine{{err.Error(), false}}
	}
	if !isUnix {
		fd, err := bindTCP(listen)
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			// An address of the machine the config is for, not of this
			// one (a config checked where it is built): a warning.
			return []checkLine{{fmt.Sprintf("warning: listen %q: no such address on this machine now; the master cannot start where it is missing", listen), true}}
		}
		if err != nil {
			return inUse(err)
		}
		unix.Close(fd)
		return nil
	}
	path := listen
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Not an error: configs are checked where they are built (a
		// container image, a ConfigMap, a CI job) as much as where they
		// run, and systemd's RuntimeDirectory= creates the folder just
		// before the master starts.
		return []checkLine{{fmt.Sprintf("warning: listen %q: directory %s does not exist yet; the master cannot start until it does (create it, e.g. systemd RuntimeDirectory= or tmpfiles.d)", path, dir), true}}
	case err != nil:
		return []checkLine{{fmt.Sprintf("listen %q: %v", path, err), false}}
	case !fi.IsDir():
		return []checkLine{{fmt.Sprintf("listen %q: %s is not a directory", path, dir), false}}
	}
	if err := unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS); err != nil {
		return []checkLine{{fmt.Sprintf("listen %q: directory %s is not writable by uid %d: %v", path, dir, os.Geteuid(), err), false}}
	}
	var out []checkLine
	if len(pc.ListenACLUsers)+len(pc.ListenACLGroups) > 0 && !aclSupported(dir) {
		out = append(out, checkLine{fmt.Sprintf("listen %q: %s", path, noACLMessage(dir)), false})
	}
	fi, err = os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		out = append(out, checkLine{fmt.Sprintf("listen %q: %v", path, err), false})
	case fi.Mode().Type() != os.ModeSocket:
		out = append(out, checkLine{fmt.Sprintf("listen %q: exists and is not a socket; remove it or choose another listen path", path), false})
	default:
		if h, live := unixLive(path); live {
			out = append(out, inUse(&inUseError{path, h})...)
		} else {
			out = append(out, checkLine{fmt.Sprintf("listen %q: stale socket file (nothing listens); the master will replace it", path), true})
		}
	}
	return out
}

// userCanConnect lists what stops u from connecting to the socket pc would
// create at path: directories it cannot search, the socket's permissions.
func userCanConnect(pc *PoolConfig, path string, u *user.User) ([]string, error) {
	q, err := accessQueryFor(pc, path, u)
	if err != nil {
		return nil, err
	}
	return q.problems(), nil
}

// accessQuery is everything the connect decision depends on, resolved.
type accessQuery struct {
	path string
	sock fileAccess // the socket as the master will create it
	// names for the messages and fixes
	ownerName, groupName string
	aclUsers             []string // listen_acl_users as configured
	groupSet             bool     // listen_group is configured: keep it, add the user to it
	dirs                 []dirAccess
	uid                  uint32
	gids                 []uint32
	userName, userGroup  string // the user and the name of its primary group
}

type dirAccess struct {
	path    string
	missing bool
	fileAccess
}

func accessQueryFor(pc *PoolConfig, path string, u *user.User) (accessQuery, error) {
	perms, _, err := resolveSocketPerms(pc)
	if err != nil {
		return accessQuery{}, err
	}
	q := accessQuery{path: path, aclUsers: pc.ListenACLUsers, userName: u.Username, groupSet: pc.ListenGroup != ""}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	q.uid = uint32(uid)
	ids, _ := u.GroupIds()
	if !containsStr(ids, u.Gid) {
		ids = append(ids, u.Gid)
	}
	for _, g := range ids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			q.gids = append(q.gids, uint32(n))
		}
	}
	q.userGroup = u.Gid
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		q.userGroup = g.Name
	}

	// The directories from / down to the socket's.
	dir := filepath.Dir(path)
	var chain []string
	for d := dir; ; d = filepath.Dir(d) {
		chain = append([]string{d}, chain...)
		if d == "/" || d == "." {
			break
		}
	}
	var parent *dirAccess
	for _, d := range chain {
		da := dirAccess{path: d}
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			da.missing = true
			q.dirs = append(q.dirs, da)
			break
		}
		da.uid, da.gid, da.mode = st.Uid, st.Gid, os.FileMode(st.Mode&0o777)
		if st.Mode&syscall.S_ISGID != 0 {
			da.mode |= os.ModeSetgid
		}
		da.acl, _ = readACL(d)
		q.dirs = append(q.dirs, da)
		parent = &q.dirs[len(q.dirs)-1]
	}

	// The socket: bound by the master (taken to run as this process does),
	// then chowned, or given an ACL whose mask becomes the group bits.
	sock := fileAccess{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid()), mode: perms.mode.Perm()}
	if parent != nil && parent.path == dir && parent.mode&os.ModeSetgid != 0 {
		sock.gid = parent.gid // created in a setgid directory
	}
	if perms.hasACL() {
		sock.acl = socketACL(perms.mode, perms.aclUsers, perms.aclGrps)
		for _, e := range sock.acl {
			if e.tag == aclMask {
				sock.mode = sock.mode&^0o070 | os.FileMode(e.perm)<<3
			}
		}
	} else {
		if perms.own.uid >= 0 {
			sock.uid = uint32(perms.own.uid)
		}
		if perms.own.gid >= 0 {
			sock.gid = uint32(perms.own.gid)
		}
	}
	q.sock = sock
	q.ownerName, q.groupName = strconv.Itoa(int(sock.uid)), strconv.Itoa(int(sock.gid))
	if o, err := user.LookupId(q.ownerName); err == nil {
		q.ownerName = o.Username
	}
	if g, err := user.LookupGroupId(q.groupName); err == nil {
		q.groupName = g.Name
	}
	return q, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// problems decides, from q alone, what keeps the user from connecting
// (search permission on each directory, write permission on the socket),
// each with its fix. None: the user can connect.
func (q accessQuery) problems() []string {
	var out []string
	for _, d := range q.dirs {
		if d.missing {
			out = append(out, fmt.Sprintf("directory %s does not exist", d.path))
			return out
		}
		if d.allows(q.uid, q.gids, aclExec) {
			continue
		}
		if d.acl != nil {
			out = append(out, fmt.Sprintf("directory %s is %04o with an ACL: setfacl -m u:%s:x %s", d.path, d.mode.Perm(), q.userName, d.path))
			continue
		}
		who := "o"
		switch {
		case q.uid == d.uid:
			who = "u"
		case containsU32(q.gids, d.gid):
			who = "g"
		}
		out = append(out, fmt.Sprintf("directory %s is %04o: chmod %s+x %s", d.path, d.mode.Perm(), who, d.path))
	}
	if q.sock.allows(q.uid, q.gids, aclWrite) {
		return out
	}
	state := fmt.Sprintf("mode %04o owner %s:%s", q.sock.mode.Perm(), q.ownerName, q.groupName)
	mode := q.sock.mode.Perm()
	var fix string
	switch {
	case q.sock.acl != nil:
		state += fmt.Sprintf(" acl users %s", quoteList(q.aclUsers))
		fix = fmt.Sprintf("listen_acl_users = %s", quoteList(append(q.aclUsers[:len(q.aclUsers):len(q.aclUsers)], q.userName)))
	case q.uid == q.sock.uid:
		fix = fmt.Sprintf("listen_mode = \"%04o\"", mode|0o600)
	case containsU32(q.gids, q.sock.gid):
		fix = fmt.Sprintf("listen_mode = \"%04o\"", mode|0o060)
	case q.groupSet && mode&0o020 != 0:
		fix = fmt.Sprintf("usermod -aG %s %s (then restart what runs as %s)", q.groupName, q.userName, q.userName)
	case q.groupSet:
		fix = fmt.Sprintf("usermod -aG %s %s and listen_mode = \"%04o\"", q.groupName, q.userName, mode|0o060)
	case mode&0o020 != 0:
		fix = fmt.Sprintf("listen_group = %q", q.userGroup)
	default:
		fix = fmt.Sprintf("listen_group = %q and listen_mode = \"%04o\"", q.userGroup, mode|0o060)
	}
	return append(out, state+"; fix: "+fix)
}

func containsU32(list []uint32, x uint32) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
