package fpm

// This file is the graceful reload (SIGUSR2, SIGHUP): the whole new
// configuration is read and validated first; an invalid one is logged and
// the master keeps serving. A valid one starts a new master — the gofpm
// binary found at the original path, so a replaced binary takes over —
// that inherits every listening socket, starts its workers on them, and
// says when they are ready. Only then does the old master retire its
// workers gracefully (requests in flight finish, bounded by
// process_control_timeout) and exit, leaving the sockets open in the new
// master: no connection is refused and none waits for the old generation.
//
// Handover: the sockets are fds 3, 4, ... of the new master, named in
// GOFPM_INHERIT ("3=/run/gofpm/www.sock,4=http:127.0.0.1:8080"); the new
// master reports readiness by closing the pipe on the fd in GOFPM_READY_FD
// after writing one byte.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/sockets"
	"golang.org/x/sys/unix"
)

// Environment of a master started by a reload.
const (
	envInherit = "GOFPM_INHERIT"
	envReadyFD = "GOFPM_READY_FD"
)

// readyTimeout bounds how long the old master waits for the new one.
const readyTimeout = 60 * time.Second

// takeInherited gives socks the sockets named in GOFPM_INHERIT and clears
// it, so the master's own children do not see it; false when there is
// none (not a reload).
//
// The ready pipe is made close-on-exec at once, as socks does with every
// inherited fd: a worker must get its own pool's socket as fd 0 and
// nothing else.
func takeInherited(socks *sockets.Set) (bool, error) {
	if fd, err := strconv.Atoi(os.Getenv(envReadyFD)); err == nil && fd >= 3 {
		unix.CloseOnExec(fd)
	}
	v := os.Getenv(envInherit)
	os.Unsetenv(envInherit)
	if v == "" {
		return false, nil
	}
	if err := socks.Inherit(v); err != nil {
		return false, fmt.Errorf("%s: %w", envInherit, err)
	}
	return true, nil
}

// signalReady tells the predecessor, if any, that this master's workers
// are ready.
func signalReady() {
	v := os.Getenv(envReadyFD)
	os.Unsetenv(envReadyFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return
	}
	f := os.NewFile(uintptr(fd), "gofpm-ready")
	f.Write([]byte{1})
	f.Close()
}

// reload validates the configuration and starts a successor master with
// the sockets. It returns the successor's pid once it is ready (the caller
// then retires its workers and exits) or an error, and the master goes on.
// It runs beside the master's loop: closing cancel gives it up (the
// successor is killed) at once.
func (m *Master) reload(cancel <-chan struct{}) (successor int, err error) {
	if _, err := config.Load(m.cfg.Path, m.opt.LoadOptions); err != nil {
		return 0, fmt.Errorf("the new configuration is not valid, keeping the running one:\n%w", err)
	}
	select {
	case <-cancel:
		return 0, errStopping
	default:
	}
	inherit, files, release, err := m.socks.HandOver(3)
	if err != nil {
		return 0, err
	}
	defer release()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer readyR.Close()
	files = append(files, readyW)
	readyFD := 2 + len(files)

	exe := m.opt.Executable
	if exe == "" {
		exe, _ = os.Executable()
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), envInherit+"="+inherit, envReadyFD+"="+strconv.Itoa(readyFD))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.ExtraFiles = files
	m.log.Info().Msgf("reloading: starting %s %s", exe, strings.Join(os.Args[1:], " "))
	sdNotify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return 0, fmt.Errorf("starting the new master: %w", err)
	}
	readyW.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan bool, 1)
	go func() {
		var b [1]byte
		n, _ := readyR.Read(b[:])
		ready <- n == 1
	}()
	select {
	case ok := <-ready:
		if ok {
			return cmd.Process.Pid, nil
		}
		err = errors.New("the new master exited before it was ready")
	case err = <-exited:
		err = fmt.Errorf("the new master exited before it was ready: %v", err)
	case <-time.After(readyTimeout):
		err = fmt.Errorf("the new master was not ready within %s", readyTimeout)
	case <-cancel:
		err = errStopping
	}
	cmd.Process.Kill()
	return 0, err
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, for systemd's reload
// protocol.
func monotonicUsec() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}
