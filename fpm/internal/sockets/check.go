package sockets

// What `gofpm check` asks of the sockets: whether an address can be bound
// now, and whether a given user, a web server's, could connect to a Unix
// socket. Both read the live system but change nothing: no socket file is
// removed or replaced, a TCP address is bound and closed at once without
// listen().

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Finding is one line of a check; OK is false for an error.
type Finding struct {
	Text string
	OK   bool
}

// Check tells whether a master starting now could listen on the address
// listen (network "unix": a socket path; "tcp": host:port). running is
// the pid of the running master of the configuration (0: none), which
// holds its addresses and hands them over on a reload: that is fine.
// wantACL: the socket is to get an ACL, which its filesystem must support.
func Check(probe Probe, network, listen string, wantACL bool, running int) []Finding {
	inUse := func(err error) []Finding {
		var iu *InUseError
		switch {
		case errors.As(err, &iu) && running != 0 && iu.Holder.Pid == running:
			return []Finding{{fmt.Sprintf("listen %q: held by the running master of this configuration (pid %d); a reload takes it over", listen, running), true}}
		case errors.As(err, &iu) && running != 0 && iu.Holder.Pid == 0 && unix.Kill(running, 0) != unix.ESRCH:
			// Run as a user who cannot read the master's /proc/PID/fd.
			return []Finding{{fmt.Sprintf("warning: listen %q: in use by a process this user cannot see; the running master of this configuration (pid %d) probably holds it, and a reload takes it over", listen, running), true}}
		case errors.As(err, &iu) && iu.Holder.Comm == "systemd":
			return []Finding{{fmt.Sprintf("listen %q: held by systemd (pid %d) for socket activation; the master is handed it, with the permissions of the .socket unit", listen, iu.Holder.Pid), true}}
		}
		return []Finding{{err.Error(), false}}
	}
	if network != "unix" {
		fd, err := probe.bindTCP(listen)
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			// An address of the machine the config is for, not of this
			// one (a config checked where it is built): a warning.
			return []Finding{{fmt.Sprintf("warning: listen %q: no such address on this machine now; the master cannot start where it is missing", listen), true}}
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
		return []Finding{{fmt.Sprintf("warning: listen %q: directory %s does not exist yet; the master cannot start until it does (create it, e.g. systemd RuntimeDirectory= or tmpfiles.d)", path, dir), true}}
	case err != nil:
		return []Finding{{fmt.Sprintf("listen %q: %v", path, err), false}}
	case !fi.IsDir():
		return []Finding{{fmt.Sprintf("listen %q: %s is not a directory", path, dir), false}}
	}
	if err := unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS); err != nil {
		return []Finding{{fmt.Sprintf("listen %q: directory %s is not writable by uid %d: %v", path, dir, os.Geteuid(), err), false}}
	}
	var out []Finding
	if wantACL && !aclSupported(dir) {
		out = append(out, Finding{fmt.Sprintf("listen %q: %s", path, noACLMessage(dir)), false})
	}
	fi, err = os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		out = append(out, Finding{fmt.Sprintf("listen %q: %v", path, err), false})
	case fi.Mode().Type() != os.ModeSocket:
		out = append(out, Finding{fmt.Sprintf("listen %q: exists and is not a socket; remove it or choose another listen path", path), false})
	default:
		if h, live := probe.unixLive(path); live {
			out = append(out, inUse(&InUseError{path, h})...)
		} else {
			out = append(out, Finding{fmt.Sprintf("listen %q: stale socket file (nothing listens); the master will replace it", path), true})
		}
	}
	return out
}

// AccessProblems lists what stops u from connecting to the socket a
// master would create at path with perms: directories u cannot search,
// the socket's permissions, each with its fix. None: u can connect.
// aclUsers (listen_acl_users as written) and groupSet (listen_group is
// set) shape the fixes.
func AccessProblems(path string, perms Perms, aclUsers []string, groupSet bool, u *user.User) []string {
	return accessQueryFor(path, perms, aclUsers, groupSet, u).problems()
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

func accessQueryFor(path string, perms Perms, aclUsers []string, groupSet bool, u *user.User) accessQuery {
	q := accessQuery{path: path, aclUsers: aclUsers, userName: u.Username, groupSet: groupSet}
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
	sock := fileAccess{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid()), mode: perms.Mode.Perm()}
	if parent != nil && parent.path == dir && parent.mode&os.ModeSetgid != 0 {
		sock.gid = parent.gid // created in a setgid directory
	}
	if perms.hasACL() {
		sock.acl = perms.acl()
		for _, e := range sock.acl {
			if e.tag == aclMask {
				sock.mode = sock.mode&^0o070 | os.FileMode(e.perm)<<3
			}
		}
	} else {
		if perms.UID >= 0 {
			sock.uid = uint32(perms.UID)
		}
		if perms.GID >= 0 {
			sock.gid = uint32(perms.GID)
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
	return q
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
