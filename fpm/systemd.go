package fpm

// This file speaks to systemd: readiness notifications (Type=notify) and
// socket activation (LISTEN_FDS), with no library. Both are no-ops when the
// environment does not ask for them.

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// sdNotify sends state ("READY=1", ...) to $NOTIFY_SOCKET, if set.
func sdNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if addr[0] == '@' { // abstract namespace
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	return nil
}

// socketActivation takes the sockets systemd passed (LISTEN_FDS, fds 3
// and up, for this pid) and returns them keyed by their LISTEN_FDNAMES name
// and by their bound address, so pools find them by either.
func socketActivation() (inherited, error) {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	if n <= 0 || pid != os.Getpid() {
		return nil, nil
	}
	in := inherited{}
	for i := range n {
		fd := 3 + i
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "systemd")
		if i < len(names) && names[i] != "" && names[i] != "unknown" {
			in["name:"+names[i]] = f
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return nil, fmt.Errorf("socket activation: fd %d: %w", fd, err)
		}
		switch a := sa.(type) {
		case *unix.SockaddrUnix:
			in[a.Name] = f
		case *unix.SockaddrInet4:
			in[net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))] = f
			in[":"+strconv.Itoa(a.Port)] = f
		case *unix.SockaddrInet6:
			in[net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))] = f
			in[":"+strconv.Itoa(a.Port)] = f
		}
	}
	return in, nil
}
