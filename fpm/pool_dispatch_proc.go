package fpm

// This file reads a worker's CPU time and resident memory at the end of
// each request it served through the dispatcher: /proc/PID/stat and
// /proc/PID/statm, kept open and read again from offset 0 (one pread
// each, no open and no allocation per request). Linux only, as /proc is.

import (
	"bytes"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// procFiles are one worker's open /proc files, as raw descriptors (an
// os.File's ReadAt reads again until EOF: two system calls where one
// does); -1 when /proc could not be opened (the reads then give zeros).
type procFiles struct {
	mu          sync.Mutex
	stat, statm int
}

func openProcFiles(pid int) *procFiles {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	pf := &procFiles{stat: -1, statm: -1}
	if fd, err := unix.Open(dir+"stat", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		pf.stat = fd
	}
	if fd, err := unix.Open(dir+"statm", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		pf.statm = fd
	}
	return pf
}

func (pf *procFiles) close() {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	for _, fd := range []int{pf.stat, pf.statm} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	pf.stat, pf.statm = -1, -1
}

// read returns the worker's utime+stime (clock ticks) and its resident
// bytes.
func (pf *procFiles) read() (ticks uint64, rss int64) {
	var buf [1024]byte
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.stat >= 0 {
		if n, _ := unix.Pread(pf.stat, buf[:], 0); n > 0 {
			ticks = statCPU(buf[:n])
		}
	}
	if pf.statm >= 0 {
		if n, _ := unix.Pread(pf.statm, buf[:], 0); n > 0 {
			rss = int64(field(buf[:n], 1)) * int64(os.Getpagesize())
		}
	}
	return ticks, rss
}

// statCPU is utime + stime (fields 14 and 15 of proc(5)) of a
// /proc/PID/stat line; the command name may hold anything up to the last
// ')'.
func statCPU(b []byte) uint64 {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0
	}
	rest := b[end+1:] // " STATE PPID ..." : field 3 is index 0
	return field(rest, 11) + field(rest, 12)
}

// field is the i-th (from 0) space-separated decimal field of b, 0 when
// missing or not a number.
func field(b []byte, i int) uint64 {
	for n := 0; ; n++ {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		j := bytes.IndexAny(b, " \n")
		if j < 0 {
			j = len(b)
		}
		if n == i {
			v, err := strconv.ParseUint(string(b[:j]), 10, 64)
			if err != nil {
				return 0
			}
			return v
		}
		if j == len(b) {
			return 0
		}
		b = b[j:]
	}
}
