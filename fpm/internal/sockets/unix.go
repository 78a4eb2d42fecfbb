package sockets

// Unix sockets: created with their mode, owner or ACL from the first
// moment, and a stale socket file told from a live one.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// MaxUnixPath is the longest socket path bind(2) accepts (sun_path less the NUL).
const MaxUnixPath = len(unix.RawSockaddrUnix{}.Path) - 1

// Perms is what a Unix socket is given before anyone can reach it: its
// mode, owner and, with ACL users or groups (listen_acl_users,
// listen_acl_groups), its access ACL, which then replaces the owner, as in
// php-fpm.
type Perms struct {
	Mode                os.FileMode
	UID, GID            int      // the owner; -1 leaves either unchanged
	ACLUsers, ACLGroups []uint32 // uids and gids given read and write
}

func (p Perms) hasACL() bool { return len(p.ACLUsers)+len(p.ACLGroups) > 0 }

// acl is the access ACL php-fpm gives a socket with p's ACL lists.
func (p Perms) acl() []aclEntry { return socketACL(p.Mode, p.ACLUsers, p.ACLGroups) }

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
func (pr Probe) listenUnix(path string, backlog int, perms Perms) (*os.File, error) {
	if len(path) > MaxUnixPath {
		return nil, fmt.Errorf("socket path %s is %d bytes long; the limit is %d", path, len(path), MaxUnixPath)
	}
	if err := pr.checkStale(path); err != nil {
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
	if len(bindName) > MaxUnixPath {
		if len(procDir)+1+len(name) > MaxUnixPath {
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
	if err := unix.Fchmodat(dfd, name, uint32(perms.Mode.Perm()), 0); err != nil {
		return fail("setting the mode of", err)
	}
	if perms.hasACL() {
		if err := setACL(procDir+"/"+name, perms.acl()); err != nil {
			return fail("setting the ACL of", err)
		}
	} else if perms.UID >= 0 || perms.GID >= 0 {
		if err := unix.Fchownat(dfd, name, perms.UID, perms.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
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
func (pr Probe) checkStale(path string) error {
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
	if holder, live := pr.unixLive(path); live {
		return &InUseError{path, holder}
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
func (pr Probe) unixLive(path string) (holder Holder, live bool) {
	if h, ok := pr.unixHolder(path); ok {
		return h, true
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return Holder{}, false
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
	if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOENT) {
		return Holder{}, false
	}
	return Holder{}, true
}

// fileID is a file's identity: its device and inode; zero for none.
type fileID struct{ dev, ino uint64 }

// socketFileID is the identity of the socket file at path; zero when
// there is none.
func socketFileID(path string) fileID {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fileID{}
	}
	return fileID{uint64(st.Dev), st.Ino}
}

// removeOwnSocket removes the socket file at path if it is still id, the
// one the set made or took over: since then another master may have
// replaced a socket it thought stale, or someone put another file there,
// and removing that one would take a live pool off the air. Between the
// check and the removal nothing but a process that may write the folder
// could swap the file. A path that is gone is not an error.
func removeOwnSocket(path string, id fileID) error {
	if id == (fileID{}) || socketFileID(path) != id {
		return nil
	}
	return os.Remove(path)
}
