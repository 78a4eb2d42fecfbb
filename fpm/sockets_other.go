//go:build !linux

package fpm

// Naming the holder of an address needs Linux (sock_diag, /proc); see
// sockets_linux.go.

import "github.com/gofpm/gofpm/fpm/internal/sockets"

// sockProbe names nobody here.
func sockProbe() sockets.Probe { return sockets.Probe{} }
