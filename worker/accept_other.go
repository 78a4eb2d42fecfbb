//go:build !linux

package worker

import (
	"fmt"
	"net"
	"os"
)

// newExclusiveListener falls back to Go's network poller where epoll's
// EPOLLEXCLUSIVE does not exist.
func newExclusiveListener(fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), "gofpm-listener")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("worker: using fd %d as listener: %w", fd, err)
	}
	return l, nil
}

// noYield is rawConn's hint on Linux; Go's own connections need none.
func noYield(net.Conn) {}
