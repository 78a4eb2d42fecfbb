//go:build !linux

package fcgi

import (
	"context"
	"net"
)

// dialUnix is net's dial where dial_linux.go's does not apply.
func dialUnix(ctx context.Context, addr *net.UnixAddr) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", addr.Name)
}
