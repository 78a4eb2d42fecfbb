package procfs

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// SyscallState says what /proc/PID/syscall showed.
type SyscallState uint8

const (
	SyscallUnknown     SyscallState = iota // unreadable or not understood
	SyscallRunning                         // on a CPU or runnable
	SyscallBlocked                         // blocked; NR is -1 outside a system call
	SyscallGone                            // the process does not exist (any more)
	SyscallUnsupported                     // this kernel has no /proc/PID/syscall
)

// Syscall is one reading of /proc/PID/syscall.
type Syscall struct {
	State SyscallState
	NR    int       // the system call blocked in (SyscallBlocked)
	Args  [6]uint64 // its arguments, when NR >= 0
}

// SyscallFile reads one process's /proc/PID/syscall, keeping the file open
// to re-read it with one pread. It needs ptrace access to the process; once
// refused it is not asked again. The zero value is ready; it is not safe for
// concurrent use.
type SyscallFile struct {
	fd      int
	open    bool
	refused bool
}

// Read reads pid's current system call, using buf (256 bytes is plenty).
func (f *SyscallFile) Read(pid int, buf []byte) Syscall {
	if f.refused {
		return Syscall{}
	}
	if !f.open {
		fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/syscall", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if err == unix.ENOENT || err == unix.ESRCH {
				// No such process, or no such file on this kernel.
				if _, serr := os.Stat("/proc/self/syscall"); serr != nil {
					return Syscall{State: SyscallUnsupported}
				}
				return Syscall{State: SyscallGone}
			}
			f.refused = true
			return Syscall{}
		}
		f.fd, f.open = fd, true
	}
	n, err := unix.Pread(f.fd, buf, 0)
	if err != nil || n <= 0 {
		f.Close()
		switch err {
		case unix.ESRCH, unix.ENOENT:
			return Syscall{State: SyscallGone}
		case unix.EACCES, unix.EPERM:
			f.refused = true // no ptrace access
		}
		return Syscall{}
	}
	return parseSyscall(buf[:n])
}

// Close closes the file; a later Read opens it again.
func (f *SyscallFile) Close() {
	if f.open {
		unix.Close(f.fd)
	}
	f.open, f.refused = false, false
}

// parseSyscall parses "running", or "NR ARG0 .. ARG5 SP PC" (NR decimal,
// the rest hex), or "-1 SP PC" when blocked outside a system call.
func parseSyscall(b []byte) Syscall {
	if bytes.HasPrefix(b, []byte("running")) {
		return Syscall{State: SyscallRunning}
	}
	f, b := nextField(b)
	nr, err := strconv.Atoi(string(f))
	if err != nil {
		return Syscall{}
	}
	s := Syscall{State: SyscallBlocked, NR: nr}
	if nr < 0 {
		return s
	}
	for i := range s.Args {
		f, b = nextField(b)
		v, err := parseHex(f)
		if err != nil {
			return Syscall{}
		}
		s.Args[i] = v
	}
	return s
}

func nextField(b []byte) (field, rest []byte) {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n') {
		b = b[1:]
	}
	i := 0
	for i < len(b) && b[i] != ' ' && b[i] != '\n' {
		i++
	}
	return b[:i], b[i:]
}

func parseHex(f []byte) (uint64, error) {
	if len(f) < 3 || f[0] != '0' || f[1] != 'x' || len(f) > 18 {
		return 0, errors.New("bad hex")
	}
	var v uint64
	for _, c := range f[2:] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, errors.New("bad hex")
		}
		v = v<<4 | uint64(c)
	}
	return v, nil
}

// Threads returns the number of pid's threads: the link count of
// /proc/PID/task is 2 + threads.
func Threads(pid int) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/task", &st); err != nil {
		return 0, err
	}
	return int(st.Nlink) - 2, nil
}
