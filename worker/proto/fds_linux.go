//go:build linux

package proto

import (
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseOnExecFrom makes every open file descriptor from first up
// close-on-exec, so that none reaches a process this one starts unless it
// is handed over on purpose (os/exec's ExtraFiles dup them without the
// flag). The master calls it first thing, for whatever fds its own parent
// left open (a shell's, a CI runner's, a leaky supervisor's); the CGI
// bridge does too, for its scripts. Fds the process uses itself stay open.
func CloseOnExecFrom(first int) {
	if first < 0 {
		first = 0
	}
	// close_range(2) with CLOSE_RANGE_CLOEXEC, Linux 5.11; else one
	// fcntl per fd listed in /proc/self/fd.
	if unix.CloseRange(uint(first), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
}
