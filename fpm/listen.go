package fpm

// This file creates the pools' listening sockets. The master creates them
// itself with socket/bind/listen so that listen_backlog is honoured and the
// socket stays in blocking mode: php-cgi and libfcgi workers call a blocking
// accept() on fd 0 and treat EAGAIN as fatal.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxUnixPath is the longest socket path bind(2) accepts (sun_path less the NUL).
const maxUnixPath = len(unix.RawSockaddrUnix{}.Path) - 1

// socketOwner is who a Unix socket is chowned to; -1 leaves it unchanged.
type socketOwner struct{ uid, gid int }

// socketPerms is what a pool's Unix socket is given before anyone can
// reach it: its mode, owner and, with listen_acl_users/listen_acl_groups,
// its access ACL (which then replaces the owner, as in php-fpm).
type socketPerms struct {
	mode              os.FileMode
	own               socketOwner
	aclUsers, aclGrps []uint32 // resolved listen_acl_users, listen_acl_groups
}

func (p socketPerms) hasACL() bool { return len(p.aclUsers)+len(p.aclGrps) > 0 }

// resolveSocketPerms takes a pool's listen_mode, listen_owner, listen_group
// and ACL lists as Load resolved them. Like php-fpm, ACLs make listen_owner
// and listen_group be ignored, with a warning.
func resolveSocketPerms(pc *PoolConfig) (p socketPerms, warnings []string, err error) {
	p = socketPerms{mode: pc.ListenPerm, own: socketOwner{uid: -1, gid: -1}}
	p.aclUsers, p.aclGrps = pc.ListenACLUIDs, pc.ListenACLGIDs
	if p.hasACL() {
		if pc.ListenOwner != "" {
			warnings = append(warnings, fmt.Sprintf("ACL set, listen_owner = %q is ignored", pc.ListenOwner))
		}
		if pc.ListenGroup != "" {
			warnings = append(warnings, fmt.Sprintf("ACL set, listen_group = %q is ignored", pc.ListenGroup))
		}
		return p, warnings, nil
	}
	if pc.ListenOwner != "" {
		p.own.uid, p.own.gid = pc.ListenOwnerUID, pc.ListenOwnerGID
	}
	if pc.ListenGroup != "" {
		p.own.gid = pc.ListenGroupGID
	}
	return p, nil, nil
}

// openPoolSocket creates a pool's listening socket with every listen_*
// setting applied; warnings are for the log.
func openPoolSocket(pc *PoolConfig, backlog int) (f *os.File, warnings []string, err error) {
	if !pc.IsUnix() {
		// The client filter goes on between bind and listen: a connection
		// completed before it would reach the workers unfiltered.
		fd, err := bindTCP(pc.Listen)
		if err != nil {
			return nil, nil, err
		}
		f = os.NewFile(uintptr(fd), pc.Listen)
		if err := setAllowedClients(f, pc.AllowedClients); err != nil {
			f.Close()
			return nil, nil, err
		}
		if err := unix.Listen(fd, backlog); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("listening on %s: %w", pc.Listen, err)
		}
		return f, nil, nil
	}
	perms, warnings, err := resolveSocketPerms(pc)
	if err != nil {
		return nil, nil, err
	}
	f, err = listenUnix(pc.Listen, backlog, perms)
	return f, warnings, err
}

// listenUnix creates a Unix socket at path with the given permissions.
//
// Nobody may reach the socket before it has them: it is bound inside a
// private directory (mode 0700, created next to path so that the rename
// stays on one filesystem), given its mode, owner or ACL there, put into
// listening state, and only then renamed to path. So path never names a
// socket with other permissions, and the socket is never reachable under
// its temporary name by anyone but the master's user. Each step after the
// bind reaches the socket through an fd of the private directory, so
// nobody can swap the directory for a symlink between two steps. A live listener already on path is an error naming
// its process; a stale socket file is replaced.
func listenUnix(path string, backlog int, perms socketPerms) (*os.File, error) {
	if len(path) > maxUnixPath {
		return nil, fmt.Errorf("socket path %s is %d bytes long; the limit is %d", path, len(path), maxUnixPath)
	}
	if err := checkStale(path); err != nil {
		return nil, err
	}
	dir, base := filepath.Dir(path), filepath.Base(path)
	if perms.hasACL() && !aclSupported(dir) {
		return nil, fmt.Errorf("listen %q: %s", path, noACLMessage(dir))
	}
	tmpDir, err := os.MkdirTemp(dir, ".gofpm-")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the temporary name means nothing to the reader
		}
		return nil, fmt.Errorf("listen %q: cannot create the socket in %s: %w", path, dir, err)
	}
	// Every step below goes through an fd of the private directory, never
	// through its name: whoever may write in dir could rename the private
	// directory away between two steps and put a symlink in its place,
	// and a chmod or chown by name would then follow it. The fd is checked
	// to be the directory just made (ours, 0700) before it is used.
	dfd, err := unix.Open(tmpDir, unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_RDONLY, 0)
	if err != nil {
		os.Remove(tmpDir)
		return nil, fmt.Errorf("listen %q: opening the private directory: %w", path, err)
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	if err := unix.Fstat(dfd, &st); err != nil || int(st.Uid) != os.Geteuid() || st.Mode&0o7777 != 0o700 {
		return nil, fmt.Errorf("listen %q: the private directory %s was replaced while the socket was made; is %s writable by others?", path, tmpDir, dir)
	}
	// The bind goes by the private directory's name when it fits: the
	// kernel keeps that name for the socket (ss, sock_diag), and it is
	// unique, which the kernel probe relies on to tell pools apart. If the
	// directory was swapped just before, the socket lands elsewhere and the
	// steps by fd below fail: no harm. A name too long for sun_path goes
	// through /proc/self/fd/N.
	name := base
	procDir := "/proc/self/fd/" + strconv.Itoa(dfd)
	bindName := filepath.Join(tmpDir, name)
	if len(bindName) > maxUnixPath {
		if len(procDir)+1+len(name) > maxUnixPath {
			name = "s"
		}
		bindName = procDir + "/" + name
	}
	defer func() {
		unix.Unlinkat(dfd, name, 0)                             // the socket file if anything failed
		unix.Unlinkat(unix.AT_FDCWD, tmpDir, unix.AT_REMOVEDIR) // empty by now
	}()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating socket for %s: %w", path, err)
	}
	fail := func(what string, err error) (*os.File, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: bindName}); err != nil {
		return fail("binding", err)
	}
	if err := unix.Fchmodat(dfd, name, uint32(perms.mode.Perm()), 0); err != nil {
		return fail("setting the mode of", err)
	}
	if perms.hasACL() {
		if err := setACL(procDir+"/"+name, socketACL(perms.mode, perms.aclUsers, perms.aclGrps)); err != nil {
			return fail("setting the ACL of", err)
		}
	} else if perms.own.uid >= 0 || perms.own.gid >= 0 {
		if err := unix.Fchownat(dfd, name, perms.own.uid, perms.own.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fail("setting the owner of", err)
		}
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail("listening on", err)
	}
	if err := unix.Renameat(dfd, name, unix.AT_FDCWD, path); err != nil {
		return fail("renaming the socket to", err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// noACLMessage says that dir's filesystem has no POSIX ACLs, naming it.
func noACLMessage(dir string) string {
	return fmt.Sprintf("the filesystem of %s (%s) does not support POSIX ACLs, which listen_acl_users/listen_acl_groups need; put the socket on one that does (ext4, xfs, btrfs, tmpfs) or use listen_owner/listen_group/listen_mode", dir, fsName(dir))
}

// checkStale makes path free for a new socket: an error when a process is
// listening there (naming it) or when it is not a socket, otherwise the
// stale socket file is removed.
func checkStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		dir := filepath.Dir(path)
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("socket directory %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; remove it or choose another listen path", path)
	}
	if holder, live := unixLive(path); live {
		return &inUseError{path, holder}
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing stale socket %s: %w", path, err)
	}
	return nil
}

// unixLive reports whether a process listens on the socket file path, and
// names it. The kernel's socket table is asked first (sock_diag: no
// connection is made); a listener it does not show (another network
// namespace) is found by connecting, which only ECONNREFUSED (no listener)
// or ENOENT (gone) disproves.
func unixLive(path string) (holder sockHolder, live bool) {
	if h, ok := unixHolder(path); ok {
		return h, true
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return sockHolder{}, false
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
	if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOENT) {
		return sockHolder{}, false
	}
	return sockHolder{}, true
}

// sockHolder is the process found holding a listening socket; pid 0 when
// the socket is in use but its holder is not visible (another network
// namespace, no access to /proc).
type sockHolder struct {
	pid  int
	comm string
}

func (h sockHolder) String() string {
	if h.pid == 0 {
		return "a process not visible from here"
	}
	return fmt.Sprintf("pid %d (%s)", h.pid, h.comm)
}

// tcpSockaddr resolves a TCP listen address ("host:port", "[v6]:port").
func tcpSockaddr(addr string) (family int, sa unix.Sockaddr, ta *net.TCPAddr, err error) {
	ta, err = net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("resolving %s: %w", addr, err)
	}
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		s := &unix.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(s.Addr[:], ip4)
		}
		return unix.AF_INET, s, ta, nil
	}
	s := &unix.SockaddrInet6{Port: ta.Port}
	copy(s.Addr[:], ta.IP.To16())
	if ta.Zone != "" {
		if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
			s.ZoneId = uint32(ifi.Index)
		}
	}
	return unix.AF_INET6, s, ta, nil
}

// bindTCP creates a TCP socket bound to addr (SO_REUSEADDR, as every
// restart needs while old connections are in TIME_WAIT). An address in use
// is an error naming the process that listens there.
func bindTCP(addr string) (int, error) {
	family, sa, ta, err := tcpSockaddr(addr)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("creating socket for %s: %w", addr, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("setting SO_REUSEADDR on %s: %w", addr, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			if h, ok := tcpHolder(addrPort(ta)); ok {
				return -1, &inUseError{addr, h}
			}
			return -1, fmt.Errorf("listen %q: address already in use", addr)
		}
		return -1, fmt.Errorf("binding %s: %w", addr, err)
	}
	return fd, nil
}

// inUseError is an address or socket held by a live process.
type inUseError struct {
	addr   string
	holder sockHolder
}

func (e *inUseError) Error() string { return fmt.Sprintf("listen %q: in use by %s", e.addr, e.holder) }

// addrPort converts a resolved TCP address; a nil IP is the wildcard.
func addrPort(ta *net.TCPAddr) netip.AddrPort {
	a, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		a = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(ta.Port))
}
