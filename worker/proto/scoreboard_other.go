//go:build !linux

package proto

import (
	"os"
)

// NewSlotFile creates a worker's scoreboard slot for the master: a
// SlotSize-byte temporary file, removed at once (only its descriptors keep
// it), and the master's mapping of it. Pass the file to the worker as
// os/exec ExtraFiles[0] (fd ScoreboardFD) with EnvScoreboardFD=3 in its
// environment, and close it once the worker has started; close the Slot
// once the worker has been reaped. (Linux uses a memfd instead.)
func NewSlotFile() (*os.File, *Slot, error) {
	f, err := os.CreateTemp("", "gofpm-slot-*")
	if err != nil {
		return nil, nil, err
	}
	os.Remove(f.Name())
	if err := f.Truncate(SlotSize); err != nil {
		f.Close()
		return nil, nil, err
	}
	s, err := newSlot(int(f.Fd()))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, s, nil
}
