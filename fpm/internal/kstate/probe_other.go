//go:build !linux

package kstate

// Kernel-derived worker state needs Linux (procfs and sock_diag). Elsewhere
// New fails and the master must rely on readability alone, or on workers
// that report their own state.

import (
	"errors"
	"os"
)

var errUnsupported = errors.New("kernel-derived worker state needs Linux")

// Probe reads nothing outside Linux.
type Probe struct{}

// New fails outside Linux.
func New(sock *os.File) (*Probe, error) { return nil, errUnsupported }

// Close does nothing.
func (k *Probe) Close() error { return nil }

// Snapshot fails outside Linux.
func (k *Probe) Snapshot(pids []int) (map[int]Worker, error) { return nil, errUnsupported }

// ListenQueue fails outside Linux.
func (k *Probe) ListenQueue() (queued, backlog int, err error) { return 0, 0, errUnsupported }

// Readable is false outside Linux.
func (k *Probe) Readable() bool { return false }
