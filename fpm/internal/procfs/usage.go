package procfs

// This file reads what a process has used (CPU time, memory, open files)
// and when it started, for the master's process_* metrics.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Usage is a process's resource use, as /proc shows it.
type Usage struct {
	CPU      time.Duration // user + system time
	Start    time.Time     // when the process started (wall clock, 10 ms steps)
	VSize    uint64        // virtual memory, bytes
	RSS      uint64        // resident memory, bytes
	OpenFDs  int           // entries of /proc/PID/fd
	MaxFDs   uint64        // RLIMIT_NOFILE soft limit (self only; 0 for others)
	MaxVSize uint64        // RLIMIT_AS soft limit (self only); RLIM_INFINITY as the kernel gives it
}

// userHZ is USER_HZ, the unit of the times in /proc/PID/stat: 100 on every
// Linux architecture Go supports.
const userHZ = 100

// ReadSelfUsage reads the calling process's usage.
func ReadSelfUsage() (Usage, error) {
	pid := os.Getpid()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Usage{}, err
	}
	boot, err := bootTime()
	if err != nil {
		return Usage{}, err
	}
	u, err := parseUsage(b, boot)
	if err != nil {
		return Usage{}, err
	}
	if fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd"); err == nil {
		u.OpenFDs = len(fds) - 1 // the directory being read is one of them
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		u.MaxFDs = rl.Cur
	}
	if unix.Getrlimit(unix.RLIMIT_AS, &rl) == nil {
		u.MaxVSize = rl.Cur
	}
	return u, nil
}

// parseUsage reads utime, stime, starttime, vsize and rss (fields 14, 15,
// 22, 23, 24 of proc(5)) from a stat line; boot is the system's boot time.
func parseUsage(b []byte, boot time.Time) (Usage, error) {
	_, f, err := statFields(b)
	if err != nil {
		return Usage{}, err
	}
	if len(f) < 22 {
		return Usage{}, errors.New("procfs: malformed stat: too few fields")
	}
	var n [5]uint64
	for i, k := range []int{11, 12, 19, 20, 21} {
		if n[i], err = strconv.ParseUint(f[k], 10, 64); err != nil {
			return Usage{}, fmt.Errorf("procfs: malformed stat: %w", err)
		}
	}
	tick := func(t uint64) time.Duration { return time.Duration(t) * time.Second / userHZ }
	return Usage{
		CPU:   tick(n[0] + n[1]),
		Start: boot.Add(tick(n[2])),
		VSize: n[3],
		RSS:   n[4] * uint64(os.Getpagesize()),
	}, nil
}

// bootTime is the "btime" line of /proc/stat.
func bootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	return parseBootTime(b)
}

func parseBootTime(b []byte) (time.Time, error) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			s, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("procfs: malformed btime: %w", err)
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, errors.New("procfs: no btime in /proc/stat")
}
