package fpm

// This file creates the pools' listening sockets. The master creates them
// itself with socket/bind/listen so that listen_backlog is honoured and the
// socket stays in blocking mode: php-cgi and libfcgi workers call a blocking
// accept() on fd 0 and treat EAGAIN as fatal.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// maxUnixPath is the longest socket path bind(2) accepts (sun_path less the NUL).
const maxUnixPath = len(unix.RawSockaddrUnix{}.Path) - 1

// socketOwner is who a Unix socket is chowned to; -1 leaves it unchanged.
type socketOwner struct{ uid, gid int }

// listenUnix creates a Unix socket at path with the given mode and owner.
// The socket is bound under a temporary name, given its mode and owner, put
// into listening state and only then renamed to path, so the path never
// exists with the wrong permissions. A live listener already on path is an
// error; a stale socket file is replaced.
func listenUnix(path string, backlog int, mode os.FileMode, own socketOwner) (*os.File, error) {
	if len(path) > maxUnixPath {
		return nil, fmt.Errorf("socket path %s is %d bytes long; the limit is %d", path, len(path), maxUnixPath)
	}
	if err := checkStale(path); err != nil {
		return nil, err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+strconv.Itoa(os.Getpid())+".tmp")
	if len(tmp) > maxUnixPath { // no room for a temporary name: bind in place
		tmp = path
	}
	os.Remove(tmp)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating socket for %s: %w", path, err)
	}
	fail := func(what string, err error) (*os.File, error) {
		unix.Close(fd)
		if tmp != path {
			os.Remove(tmp)
		}
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: tmp}); err != nil {
		return fail("binding", err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail("setting the mode of", err)
	}
	if own.uid >= 0 || own.gid >= 0 {
		if err := os.Lchown(tmp, own.uid, own.gid); err != nil {
			return fail("setting the owner of", err)
		}
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail("listening on", err)
	}
	if tmp != path {
		if err := os.Rename(tmp, path); err != nil {
			return fail("renaming the socket to", err)
		}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// checkStale makes path free for a new socket: an error when something is
// listening there or when it is not a socket, otherwise the stale socket
// file is removed.
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
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("another process is already listening on %s", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing stale socket %s: %w", path, err)
	}
	return nil
}

// listenTCP creates a TCP listening socket on addr ("host:port", "[v6]:port").
func listenTCP(addr string, backlog int) (*os.File, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", addr, err)
	}
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		s := &unix.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(s.Addr[:], ip4)
		}
		sa = s
	} else {
		family = unix.AF_INET6
		s := &unix.SockaddrInet6{Port: ta.Port}
		copy(s.Addr[:], ta.IP.To16())
		if ta.Zone != "" {
			if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
				s.ZoneId = uint32(ifi.Index)
			}
		}
		sa = s
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating socket for %s: %w", addr, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting SO_REUSEADDR on %s: %w", addr, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding %s: %w", addr, err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return os.NewFile(uintptr(fd), addr), nil
}

// parseMode parses an octal listen_mode such as "0660".
func parseMode(s string) (os.FileMode, error) {
	m, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("listen_mode %q is not an octal mode such as \"0660\"", s)
	}
	return os.FileMode(m), nil
}
