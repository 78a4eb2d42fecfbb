package worker

// This file finds the worker's listener: the socket the master handed
// over on proto.ListenFD, or in standalone mode the address of -listen or
// proto.EnvListen.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/gofpm/gofpm/worker/proto"
	"golang.org/x/sys/unix"
)

// errNotSocket is returned by inheritedListener when fd 0 is not a
// listening socket.
var errNotSocket = errors.New("worker: fd 0 is not a listening socket")

// inheritedListener returns a listener on fd 0 when fd 0 is a listening
// stream socket.
func inheritedListener() (net.Listener, error) {
	acc, err := unix.GetsockoptInt(proto.ListenFD, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil || acc != 1 {
		return nil, errNotSocket
	}
	return newExclusiveListener(proto.ListenFD)
}

// standaloneListener listens on the address from -listen or GOFPM_LISTEN.
func standaloneListener(args []string) (net.Listener, error) {
	addr := listenArg(args)
	if addr == "" {
		addr = os.Getenv(proto.EnvListen)
	}
	if addr == "" {
		return nil, errors.New("worker: not started by gofpm (fd 0 is not a socket) and no -listen ADDR or " + proto.EnvListen + " given")
	}
	network, address := "tcp", addr
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", rest
	} else if strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "./") {
		network = "unix"
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("worker: listening on %s: %w", addr, err)
	}
	return l, nil
}

// listenArg finds -listen ADDR, -listen=ADDR, --listen ADDR or --listen=ADDR.
func listenArg(args []string) string {
	for i := 1; i < len(args); i++ {
		a := args[i]
		for _, p := range []string{"-listen", "--listen"} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
		}
	}
	return ""
}

// envInt reads a non-negative integer from the environment, def when unset
// or malformed.
func envInt(name string, def int) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil || n < 0 {
		return def
	}
	return n
}
