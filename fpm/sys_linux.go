//go:build linux

package fpm

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// childSysProcAttr puts a worker in its own process group (a Ctrl-C on the
// master's terminal reaches the master only, which then stops the workers in
// order) and makes the kernel SIGKILL it when the master dies. Pdeathsig
// fires when the thread that forked exits; the Go runtime never ends its
// threads while no goroutine holds runtime.LockOSThread, and gofpm holds none.
func childSysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  unix.SIGKILL,
		Credential: cred,
	}
}
