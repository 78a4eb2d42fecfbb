//go:build linux

package proto

import (
	"os"

	"golang.org/x/sys/unix"
)

// NewSlotFile creates a worker's scoreboard slot for the master: an
// anonymous memory file (memfd, close-on-exec) of SlotSize bytes, sealed
// against resizing, and the master's mapping of it. Pass the file to the
// worker as os/exec ExtraFiles[0] (fd ScoreboardFD) with
// EnvScoreboardFD=3 in its environment, and close it once the worker has
// started; close the Slot once the worker has been reaped.
func NewSlotFile() (*os.File, *Slot, error) {
	fd, err := unix.MemfdCreate("gofpm-slot", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, nil, os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "gofpm-slot")
	if err := unix.Ftruncate(fd, SlotSize); err != nil {
		f.Close()
		return nil, nil, os.NewSyscallError("ftruncate", err)
	}
	// A worker that shrank the file would make the master's reads fault
	// (SIGBUS). Sealing is best effort: some sandboxes lack it.
	unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL)
	s, err := newSlot(fd)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, s, nil
}
