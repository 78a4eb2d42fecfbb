// Package procfs reads what the master needs to know of processes from
// Linux's /proc: a process's parent, children, command name, resident
// memory, kernel wait channel and stack, the system call it is blocked in,
// and its socket fds. Every /proc/PID/stat in gofpm is parsed here.
//
// Elsewhere the readers fail as the files are missing: a /proc that does
// not exist reads as no process at all.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat is the part of /proc/PID/stat that gofpm uses.
type Stat struct {
	Comm    string // the command name, as between the parentheses
	State   byte   // R, S, D, Z, T, ...
	PPID    int
	Session int    // the session id (0 when the line is too short to say)
	CPU     uint64 // utime + stime, in clock ticks (USER_HZ: 100 a second)
}

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return parseStat(b)
}

// parseStat parses "PID (COMM) STATE PPID ...". COMM may hold spaces and
// parentheses: it ends at the last ')'.
func parseStat(b []byte) (Stat, error) {
	comm, f, err := statFields(b)
	if err != nil {
		return Stat{}, err
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Stat{}, fmt.Errorf("procfs: malformed stat: %w", err)
	}
	st := Stat{Comm: comm, State: f[0][0], PPID: ppid}
	if len(f) > 3 {
		st.Session, _ = strconv.Atoi(f[3])
	}
	if len(f) > 12 { // fields 14 and 15 of proc(5)
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		sy, _ := strconv.ParseUint(f[12], 10, 64)
		st.CPU = ut + sy
	}
	return st, nil
}

// statFields splits /proc/PID/stat into the command name and the fields
// after it (f[0] is the state, field 3 of proc(5)).
func statFields(b []byte) (comm string, f []string, err error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", nil, errors.New("procfs: malformed stat")
	}
	f = strings.Fields(string(b[end+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return "", nil, errors.New("procfs: malformed stat")
	}
	return string(b[open+1 : end]), f, nil
}

// SessionMembers lists the live processes of session sid (zombies left
// out), by scanning /proc.
func SessionMembers(sid int) []int {
	pids, _ := Pids()
	var out []int
	for _, pid := range pids {
		if st, err := ReadStat(pid); err == nil && st.Session == sid && st.State != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// Comm returns pid's command name, from /proc/PID/comm.
func Comm(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// RSS returns the resident set size of pid in bytes, from /proc/PID/statm.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	var size, rss int64
	if _, err := fmt.Sscan(string(b), &size, &rss); err != nil {
		return 0, err
	}
	return rss * int64(os.Getpagesize()), nil
}

// Wchan returns the kernel function pid waits in, from /proc/PID/wchan
// ("0" when it is running).
func Wchan(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/wchan")
	return strings.TrimSpace(string(b)), err
}

// KernelStack returns pid's kernel stack, from /proc/PID/stack (root only).
func KernelStack(pid int) ([]byte, error) {
	return os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stack")
}

// Pids lists the processes in /proc.
func Pids() ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Children lists pid's child processes: from /proc/PID/task/*/children
// when the kernel has it, else by scanning /proc for pid as parent.
func Children(pid int) ([]int, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var kids []int
	ok := true
	for _, t := range tasks {
		b, err := os.ReadFile(dir + t.Name() + "/children")
		if errors.Is(err, os.ErrNotExist) && t.Name() == strconv.Itoa(pid) {
			ok = false
			break
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				kids = append(kids, n)
			}
		}
	}
	if ok {
		return kids, nil
	}
	pids, err := Pids()
	if err != nil {
		return nil, err
	}
	kids = kids[:0]
	for _, p := range pids {
		if st, err := ReadStat(p); err == nil && st.PPID == pid {
			kids = append(kids, p)
		}
	}
	return kids, nil
}

// SocketHolders lists the processes with an fd open on socket inode ino
// (those whose /proc/PID/fd this process may read).
func SocketHolders(ino uint64) []int {
	pids, err := Pids()
	if err != nil {
		return nil
	}
	var holders []int
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(dir + fd.Name())
			if n, ok := socketInode([]byte(l)); err == nil && ok && n == ino {
				holders = append(holders, pid)
				break
			}
		}
	}
	return holders
}

// socketInode parses a socket fd's link, "socket:[INODE]".
func socketInode(b []byte) (uint64, bool) {
	const pre = "socket:["
	if len(b) < len(pre)+2 || string(b[:len(pre)]) != pre || b[len(b)-1] != ']' {
		return 0, false
	}
	var v uint64
	for _, c := range b[len(pre) : len(b)-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}
