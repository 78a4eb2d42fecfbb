//go:build linux

package cgi

// This file holds what ties a script's life to its worker's.

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// scriptSysProcAttr puts a script in a process group of its own (killed as
// one on timeout) and has the kernel SIGKILL it when the bridge's worker
// dies, even by SIGKILL: no script outlives the worker that started it.
// Go's fork sets the parent-death signal race-free (it checks getppid
// after the prctl). The signal fires when the forking thread ends; the
// Go runtime ends a thread only for a goroutine that returns locked to
// it (runtime.LockOSThread), which the bridge and the worker library never
// do.
func scriptSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitExited blocks until the process pid has exited, leaving it a zombie
// for exec.Cmd.Wait to reap (WNOWAIT).
func waitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
