//go:build !linux

package proto

import "syscall"

// CloseOnExecFrom makes the open file descriptors from first up to 1023
// close-on-exec (see the Linux version).
func CloseOnExecFrom(first int) {
	for fd := max(first, 0); fd < 1024; fd++ {
		syscall.CloseOnExec(fd)
	}
}
