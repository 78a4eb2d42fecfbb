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

	"github.com/gofpm/gofpm/fpm/internal/sockets"
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

// socketActivation gives socks the sockets systemd passed (LISTEN_FDS,
// fds 3 and up, for this pid), found by their LISTEN_FDNAMES name and by
// their bound address, so pools find them by either.
func socketActivation(socks *sockets.Set) error {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	if n <= 0 || pid != os.Getpid() {
		return nil
	}
	return socks.InheritSystemd(n, names)
}
