//go:build linux

package fpm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gofpm/gofpm/fpm/internal/procfs"
	"golang.org/x/sys/unix"
)

// childSysProcAttr puts a worker in its own process group (a Ctrl-C on the
// master's terminal reaches the master only, which then stops the workers in
// order) and makes the kernel SIGKILL it when the master dies.
//
// Why this is race-free: Go's forkAndExecInChild1 (syscall/exec_linux.go)
// records the parent's pid before fork, sets PR_SET_PDEATHSIG in the child
// after the credentials and chdir (a uid change would clear it), then
// compares getppid() with the recorded pid and kills itself with the signal
// if they differ: a master that dies between fork and prctl is noticed, and
// one that dies later triggers the signal. Workers started through the
// trampoline set it again after their uid change (ExecWorker).
//
// Pdeathsig fires when the *thread* that forked exits, not the process. The
// Go runtime ends a thread only when a goroutine locked to it with
// runtime.LockOSThread returns without unlocking; no code of the master
// locks a thread (TestNoLockOSThread checks the sources), so the forking
// thread lives as long as the master. Spawns run on the pools' goroutines.
//
// With ownSession (CGI bridge workers) the worker leads a session of its
// own instead (setsid: a process group of its own too). Its scripts,
// each in a process group of its own, stay in that session, and so do
// their background jobs: when the worker is gone, killSession finds and
// kills whatever is left of it, even after a SIGKILL of the worker.
func childSysProcAttr(cred *syscall.Credential, ownSession bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    !ownSession,
		Setsid:     ownSession,
		Pdeathsig:  unix.SIGKILL,
		Credential: cred,
	}
}

// killSession SIGKILLs every process left in the session a worker led,
// once the worker is reaped. A session id stays in use, and its number
// cannot be given to a new process, while any member lives; so the
// members found are the worker's leftovers (a new session of that number
// would need the pid to be reused between the reap and the scan).
func killSession(sid int) {
	for _, pid := range procfs.SessionMembers(sid) {
		unix.Kill(pid, unix.SIGKILL)
	}
}

// ExecWorker is `gofpm worker exec`, the trampoline a worker goes through
// when its pool sets rlimit_files, rlimit_core, process_priority or chroot
// (see spawnSpec.trampoline). args are
//
//	--ppid=PID [--deathsig=N] [--nofile=N] [--core=N|-1] [--nice=N] [--chroot=DIR]
//	[--chdir=DIR] [--uid=N --gid=N --groups=G,G] -- PATH ARGV0 ARGS...
//
// It applies them to this process and execs PATH; it returns only on error.
// The order matters: limits and nice first (raising a hard limit and a
// negative nice need root), then chroot and chdir (root), then the groups,
// the gid and the uid, then the parent-death signal again (a uid change
// clears it), then exec.
func ExecWorker(args []string) (err error) {
	// The nice value and the parent-death signal belong to the thread, and
	// execve keeps those of the thread that calls it: stay on one thread.
	// This process is replaced by the exec; the thread is never given back.
	runtime.LockOSThread()
	// The master reads why this step failed from EnvExecErrFD (the worker's
	// stderr may well be /dev/null); the worker itself never sees the fd.
	if fd, e := strconv.Atoi(os.Getenv(EnvExecErrFD)); e == nil && fd >= 3 {
		os.Unsetenv(EnvExecErrFD)
		unix.CloseOnExec(fd)
		defer func() {
			if err != nil {
				unix.Write(fd, []byte(err.Error()+"\n"))
			}
		}()
	}
	var o struct {
		ppid, nofile, core, nice  int
		deathsig                  int // default SIGKILL
		hasCore, hasNice, hasCred bool
		chroot, chdir             string
		uid, gid                  int
		groups                    []int
	}
	i := 0
	for ; i < len(args) && args[i] != "--"; i++ {
		k, v, _ := strings.Cut(strings.TrimPrefix(args[i], "--"), "=")
		var nums []int // the value as numbers, except for paths
		if k != "chroot" && k != "chdir" {
			for _, f := range strings.Split(v, ",") {
				n, err := strconv.Atoi(f)
				if err != nil && f != "" {
					return fmt.Errorf("worker exec: %q: %q is not a number", args[i], f)
				}
				if err == nil {
					nums = append(nums, n)
				}
			}
			if k != "groups" && len(nums) != 1 {
				return fmt.Errorf("worker exec: %q: want --%s=NUMBER", args[i], k)
			}
		}
		switch k {
		case "ppid":
			o.ppid = nums[0]
		case "deathsig":
			o.deathsig = nums[0]
		case "nofile":
			o.nofile = nums[0]
		case "core":
			o.core, o.hasCore = nums[0], true
		case "nice":
			o.nice, o.hasNice = nums[0], true
		case "uid":
			o.uid, o.hasCred = nums[0], true
		case "gid":
			o.gid = nums[0]
		case "groups":
			o.groups = nums
		case "chroot":
			o.chroot = v
		case "chdir":
			o.chdir = v
		default:
			return fmt.Errorf("worker exec: unknown option %q", args[i])
		}
	}
	if len(args)-i < 3 || o.ppid == 0 {
		return errors.New("worker exec: usage: gofpm worker exec --ppid=PID [options] -- PATH ARGV0 [ARGS...]")
	}
	path, argv := args[i+1], args[i+2:]

	// syscall.Setrlimit, not unix.Setrlimit: only the former tells
	// syscall.Exec not to restore the soft RLIMIT_NOFILE Go found at start.
	if o.nofile > 0 {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: uint64(o.nofile), Max: uint64(o.nofile)}); err != nil {
			return fmt.Errorf("rlimit_files %d: %w", o.nofile, err)
		}
	}
	if o.hasCore {
		n := uint64(o.core)
		if o.core < 0 {
			n = unix.RLIM_INFINITY
		}
		if err := syscall.Setrlimit(unix.RLIMIT_CORE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			return fmt.Errorf("rlimit_core %d: %w", o.core, err)
		}
	}
	if o.hasNice {
		// On Linux setpriority(PRIO_PROCESS, 0) sets this thread's nice.
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, o.nice); err != nil {
			return fmt.Errorf("process_priority %d: %w", o.nice, err)
		}
	}
	if o.chroot != "" {
		if err := unix.Chroot(o.chroot); err != nil {
			return fmt.Errorf("chroot %s: %w", o.chroot, err)
		}
		if o.chdir == "" {
			o.chdir = "/"
		}
	}
	if o.chdir != "" {
		if err := unix.Chdir(o.chdir); err != nil {
			return fmt.Errorf("chdir %s: %w", o.chdir, err)
		}
	}
	if o.hasCred {
		// syscall's set*id change every thread of the process.
		if err := syscall.Setgroups(o.groups); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setresgid(o.gid, o.gid, o.gid); err != nil {
			return fmt.Errorf("setresgid %d: %w", o.gid, err)
		}
		if err := syscall.Setresuid(o.uid, o.uid, o.uid); err != nil {
			return fmt.Errorf("setresuid %d: %w", o.uid, err)
		}
	}
	// The uid change cleared the parent-death signal: set it again, then
	// make sure the master did not die before that (as Go's fork does).
	if o.deathsig <= 0 {
		o.deathsig = int(unix.SIGKILL)
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(o.deathsig), 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_PDEATHSIG: %w", err)
	}
	if os.Getppid() != o.ppid {
		os.Exit(1) // the master is gone
	}
	err = syscall.Exec(path, argv, os.Environ())
	return fmt.Errorf("exec %s: %w", path, err)
}

// The orphan reaper. A master that is PID 1 (a container's init) inherits
// every orphan of its namespace and must reap them, or they stay zombies.
// Its own children each have a goroutine blocked in wait4(pid) (exec.Cmd.Wait),
// so the reaper must never take their exit statuses: it reaps, by pid, only
// children the master did not start. startOwned and a reaper pass exclude
// each other, so a child is registered before any pass can see it.
var reaper struct {
	on    atomic.Bool
	gate  sync.RWMutex // starts hold it shared, a pass exclusively
	mu    sync.Mutex
	owned map[int]bool
}

// startOwned starts cmd; while the reaper runs, the child's pid is
// registered as the master's own before a reaper pass can look at it.
func startOwned(cmd *exec.Cmd) error {
	if !reaper.on.Load() {
		return cmd.Start()
	}
	reaper.gate.RLock()
	defer reaper.gate.RUnlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	reaper.mu.Lock()
	reaper.owned[cmd.Process.Pid] = true
	reaper.mu.Unlock()
	return nil
}

// enableReaper turns the orphan reaper on; call it before any child starts.
func enableReaper() {
	reaper.mu.Lock()
	if reaper.owned == nil {
		reaper.owned = map[int]bool{}
	}
	reaper.mu.Unlock()
	reaper.on.Store(true)
}

// forgetOwned is called by a child's waiter once it has reaped the child:
// the pid is no longer the master's and may be reused. (Pruning by listing /proc/self/task/*/children
// instead would trust a file the kernel calls unreliable while children
// are being reaped.)
func forgetOwned(pid int) {
	reaper.mu.Lock()
	delete(reaper.owned, pid)
	reaper.mu.Unlock()
}

// reapOrphans runs one pass: it reaps every zombie child the master did not
// start. It returns the pids reaped.
func reapOrphans() []int {
	// A cheap look first: is any child waitable at all? WNOWAIT leaves it
	// for whoever reaps it.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil || info.Signo == 0 {
		return nil
	}
	reaper.gate.Lock()
	defer reaper.gate.Unlock()
	kids, err := procfs.Children(os.Getpid())
	if err != nil {
		return nil
	}
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	var reaped []int
	for _, pid := range kids {
		if reaper.owned[pid] {
			continue
		}
		var ws unix.WaitStatus
		if n, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err == nil && n == pid {
			reaped = append(reaped, pid)
		}
	}
	return reaped
}
