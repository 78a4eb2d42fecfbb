//go:build !linux

package fpm

// Kernel-derived worker state needs Linux (procfs and sock_diag); see
// kstate_linux.go. Elsewhere newKernelProbe fails and the master must rely on
// readability alone, or on workers that report their own state.

import (
	"errors"
	"os"
	"time"
)

var errKernelProbeUnsupported = errors.New("kernel-derived worker state needs Linux")

type kwait uint8

const (
	kwaitUnknown kwait = iota
	kwaitAccept
	kwaitConn
	kwaitRunning
	kwaitOther
)

type kworker struct {
	busy  bool
	conn  uint64
	conns int
	wait  kwait
}

type kernelProbe struct{}

func newKernelProbe(sock *os.File) (*kernelProbe, error) { return nil, errKernelProbeUnsupported }

func (k *kernelProbe) Close() error { return nil }

func (k *kernelProbe) workerBusy(pid int) (bool, error) { return false, errKernelProbeUnsupported }

func (k *kernelProbe) worker(pid int) (kworker, error) { return kworker{}, errKernelProbeUnsupported }

func (k *kernelProbe) busyWorkers(pids []int) (map[int]bool, error) {
	return nil, errKernelProbeUnsupported
}

func (k *kernelProbe) snapshot(pids []int) (map[int]kworker, error) {
	return nil, errKernelProbeUnsupported
}

func (k *kernelProbe) listenQueue() (queued, backlog int, err error) {
	return 0, 0, errKernelProbeUnsupported
}

func (k *kernelProbe) readable() bool { return false }

type kworkerTime struct {
	busy         bool
	conn         uint64
	wait         kwait
	since, after time.Time
	request      time.Time
}

type kworkerClock struct{}

func (c *kworkerClock) observe(now time.Time, snap map[int]kworker) {}

func (c *kworkerClock) get(pid int) (kworkerTime, bool) { return kworkerTime{}, false }
