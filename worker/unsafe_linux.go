//go:build linux

package worker

import (
	"io"
	"unsafe"
)

var errEOF = io.EOF

// unsafePointer returns the address of p's first byte (p is not empty).
func unsafePointer(p []byte) unsafe.Pointer { return unsafe.Pointer(&p[0]) }
