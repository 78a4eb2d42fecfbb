package fpm

// This file starts one worker process and waits for it.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/worker/proto"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// child is one worker process. Only the pool loop touches it.
type child struct {
	pid      int
	cmd      *exec.Cmd
	started  time.Time
	stopping bool // the master asked it to go: its exit is expected

	slot        *proto.Slot // the scoreboard slot it may write (Go workers do)
	pages       *os.File    // the master's end of the page connection (Go workers ask status/ping there)
	execErr     *os.File    // the read end of the worker exec step's error pipe; nil without the step
	state       workerState
	since       time.Time // when state began
	req         request   // the request in flight, while busy
	retiring    bool      // sent the graceful signal to leave (scale down or recycle)
	scaledDown  bool      // retired by the process manager: not replaced
	slowLogged  time.Time // start of the last request logged as slow
	terminating bool      // its request timed out: SIGTERM sent
	killAt      time.Time // SIGKILL after this if it is still there

	memory       bool          // recycled for worker_max_memory
	seenReqs     uint64        // requests begun, as far as the master saw
	lastConn     uint64        // foreign workers: inode of the last connection seen
	lastDuration time.Duration // of the last finished request

	dispatchAddr string // dispatch = "master": its private socket (pool_dispatch.go)
}

// close releases the master's side of the child's scoreboard slot.
func (c *child) close() {
	if c.slot != nil {
		c.slot.Close()
		c.slot = nil
	}
	if c.pages != nil {
		c.pages.Close()
		c.pages = nil
	}
}

// childExit is what the waiter goroutine reports when a child is gone.
type childExit struct {
	pid    int
	status syscall.WaitStatus
	known  bool // false: its status went elsewhere (should not happen)
	at     time.Time
}

// exitOf is the exit of pid as os/exec reports it.
func exitOf(pid int, ps *os.ProcessState, at time.Time) childExit {
	e := childExit{pid: pid, at: at}
	if ps != nil {
		e.status, e.known = ps.Sys().(syscall.WaitStatus)
	}
	return e
}

// code is the exit code, -1 for a death by signal or an unknown status.
func (e childExit) code() int {
	if !e.known {
		return -1
	}
	return e.status.ExitStatus()
}

// describe renders an exit the way php-fpm does: "with code 3" or
// "on signal 9 (SIGKILL)". clean is an exit with code 0 or by SIGQUIT;
// fault a death by SIGSEGV or SIGBUS (emergency_restart_threshold).
func (e childExit) describe() (how string, clean, fault bool) {
	if !e.known {
		return "with an unknown status", false, false
	}
	ws := e.status
	if ws.Signaled() {
		sig := unix.Signal(ws.Signal())
		core := ""
		if ws.CoreDump() {
			core = " - core dumped"
		}
		return fmt.Sprintf("on signal %d (%s%s)", int(sig), config.SignalName(sig), core), sig == unix.SIGQUIT,
			sig == unix.SIGSEGV || sig == unix.SIGBUS
	}
	return "with code " + strconv.Itoa(ws.ExitStatus()), ws.ExitStatus() == 0, false
}

// spawnSpec is everything a pool needs to start its children; built once per
// pool from its config.
type spawnSpec struct {
	path string   // resolved command[0]
	args []string // command
	dir  string
	env  []string // without the per-child variables
	cred *syscall.Credential
	sock *os.File
	// pages: the pool has a status or ping page, so each child gets a
	// connection to the master's pages (proto.PagesFD).
	pages        bool
	accessFormat string
	// accessSuppress is access_suppress_path (EnvAccessSuppressPath).
	accessSuppress []string
	// tramp: the worker starts through `gofpm worker exec`, which reports
	// a failure before its exec on a pipe (EnvExecErrFD).
	tramp bool
	// session: the worker leads a session of its own, killed when it is
	// gone (the CGI bridge: its scripts' background jobs).
	session bool
	// private, for dispatch = "master", makes each worker's own listening
	// socket, its fd 0 instead of sock (pool_dispatch.go).
	private func() (*os.File, string, error)
	// deathSig is the worker's parent-death signal: SIGKILL, but SIGTERM
	// for a php-cgi parent (worker = "php"), whose handler then takes its
	// children along.
	deathSig unix.Signal
}

// EnvExecErrFD names the fd on which `gofpm worker exec` writes why it
// could not start the worker (it is close-on-exec once the worker runs).
const EnvExecErrFD = "GOFPM_EXEC_ERRFD"

// newSpawnSpec resolves the pool's command, identity and environment.
// exe is the gofpm binary, for the built-in workers (worker = "cgi").
func newSpawnSpec(pc *config.Pool, sock *os.File, exe string) (*spawnSpec, error) {
	args := pc.Command
	if pc.Worker == "cgi" {
		// The CGI bridge is gofpm itself: `gofpm worker cgi`.
		if exe == "" {
			exe, _ = os.Executable()
		}
		args = []string{exe, "worker", "cgi"}
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("pool %q: no command", pc.Name)
	}
	if len(pc.PHPArgs) > 0 {
		// php_value & co. and cgi.fix_pathinfo=0 (config.Pool.PHPArgs).
		args = append(args[:len(args):len(args)], pc.PHPArgs...)
	}
	var path string
	var err error
	if pc.Chroot != "" {
		// The command is exec'd after the chroot: it is a path inside it.
		path, err = config.LookPathIn(pc.Chroot, args[0])
	} else {
		path, err = exec.LookPath(args[0])
	}
	if err != nil {
		return nil, fmt.Errorf("pool %q: command: %w", pc.Name, err)
	}
	s := &spawnSpec{path: path, args: args, dir: pc.Chdir, sock: sock, accessFormat: pc.AccessFormat, accessSuppress: pc.AccessSuppressPath, session: pc.Worker == "cgi", deathSig: unix.SIGKILL}

	// Identity: only a root master switches users. setgid and setuid as
	// root set the real, effective and saved ids; the supplementary groups
	// are exactly pc.Groups (none unless configured). Load resolved them (a
	// number without a passwd entry: gid 0 without group, as in php-fpm).
	home, uname := "", ""
	if os.Geteuid() == 0 && pc.User != "" {
		id := pc.Identity
		if id == nil {
			return nil, fmt.Errorf("pool %q: user %q was not resolved by Load", pc.Name, pc.User)
		}
		s.cred = &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: append([]uint32{}, id.Groups...)}
		home, uname = id.Home, id.Name
	} else if u, err := user.Current(); err == nil {
		home, uname = u.HomeDir, u.Username
	}

	// Environment: php-fpm's clear_env, env (with $VAR copying the master's
	// variable), USER and HOME from passwd unless set.
	env := map[string]string{}
	if !pc.ClearEnvOn() {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	env["USER"], env["HOME"] = uname, home
	for k, v := range pc.Env {
		if name, ok := strings.CutPrefix(v, "$"); ok && name != "" {
			v = os.Getenv(name)
		}
		env[k] = v
	}
	env[proto.EnvPool] = pc.Name
	if pc.Worker == "php" {
		// One warm parent forks the pool's children (php_fork.go).
		env["PHP_FCGI_CHILDREN"] = strconv.Itoa(pc.PMMaxChildren)
		s.deathSig = unix.SIGTERM
	}
	if pc.Worker == "cgi" {
		env[proto.EnvCGIRoot] = pc.Root
		env[proto.EnvCGIExtensions] = strings.Join(pc.SecurityLimitExtensions, ",")
		if pc.RequestTerminateTimeout > 0 {
			env[proto.EnvCGITimeout] = pc.RequestTerminateTimeout.D().String()
		}
	}
	if pc.PMStatusPath != "" || pc.PingPath != "" {
		s.pages = true
		env[proto.EnvPagesFD] = strconv.Itoa(proto.PagesFD)
		env[proto.EnvStatusPath] = pc.PMStatusPath
		env[proto.EnvPingPath] = pc.PingPath
	}
	env[proto.EnvConcurrency] = strconv.Itoa(max(pc.WorkerConcurrency, 1))
	if !pc.IsUnix() && len(pc.AllowedClients) > 0 { // Go workers; libfcgi (php-cgi ignores it on fd 0)
		clients := make([]string, len(pc.AllowedClients))
		for i, a := range pc.AllowedClients {
			clients[i] = a.String()
		}
		env[proto.EnvAllowedClients] = strings.Join(clients, ",")
		if env["FCGI_WEB_SERVER_ADDRS"] == "" {
			env["FCGI_WEB_SERVER_ADDRS"] = env[proto.EnvAllowedClients]
		}
	}
	for k, v := range env {
		if v != "" || k == "USER" || k == "HOME" {
			s.env = append(s.env, k+"="+v)
		}
	}
	if pc.Chroot != "" || pc.RlimitFiles > 0 || pc.RlimitCore != nil || pc.ProcessPriority != 0 {
		s.trampoline(pc, exe)
	}
	return s, nil
}

// trampoline makes the spec start the worker through `gofpm worker exec`
// (ExecWorker), which sets the limits, the nice value, the chroot, the
// working folder and the identity in the new process, in that order, and
// then execs the real command. Go's SysProcAttr has no rlimits and no nice
// value; setting them in the master around the fork would change the
// master, and prlimit(2) on the child after the fork comes too late (the
// worker already runs). The extra exec costs a few milliseconds per spawn,
// only in pools that set one of these keys.
func (s *spawnSpec) trampoline(pc *config.Pool, exe string) {
	if exe == "" {
		exe, _ = os.Executable()
	}
	a := []string{exe, "worker", "exec", "--ppid=" + strconv.Itoa(os.Getpid()), "--deathsig=" + strconv.Itoa(int(s.deathSig))}
	if pc.RlimitFiles > 0 {
		a = append(a, "--nofile="+strconv.Itoa(pc.RlimitFiles))
	}
	if pc.RlimitCore != nil {
		a = append(a, "--core="+strconv.FormatInt(int64(*pc.RlimitCore), 10))
	}
	if pc.ProcessPriority != 0 {
		a = append(a, "--nice="+strconv.Itoa(pc.ProcessPriority))
	}
	if pc.Chroot != "" {
		a = append(a, "--chroot="+pc.Chroot)
	}
	if s.dir != "" {
		a = append(a, "--chdir="+s.dir)
	}
	if c := s.cred; c != nil {
		groups := make([]string, len(c.Groups))
		for i, g := range c.Groups {
			groups[i] = strconv.FormatUint(uint64(g), 10)
		}
		a = append(a, "--uid="+strconv.FormatUint(uint64(c.Uid), 10), "--gid="+strconv.FormatUint(uint64(c.Gid), 10),
			"--groups="+strings.Join(groups, ","))
	}
	a = append(a, "--", s.path)
	s.args = append(a, s.args...)
	s.path, s.dir, s.cred = exe, "", nil
	s.tramp = true
}

// start forks one worker with the pool's socket as fd 0. maxRequests is this
// child's own limit (pm_max_requests plus jitter); it is passed to Go workers
// as GOFPM_MAX_REQUESTS and to php-cgi as PHP_FCGI_MAX_REQUESTS unless the
// pool's env sets that. out, when non-nil, receives stdout and stderr.
func (s *spawnSpec) start(maxRequests int, out *outputCatcher, access *os.File) (*child, error) {
	env := append(s.env[:len(s.env):len(s.env)], proto.EnvMaxRequests+"="+strconv.Itoa(maxRequests))
	if !hasEnv(s.env, "PHP_FCGI_MAX_REQUESTS") {
		env = append(env, "PHP_FCGI_MAX_REQUESTS="+strconv.Itoa(maxRequests))
	}
	// The scoreboard slot goes to the child as fd 3 (proto.ScoreboardFD).
	slotFile, slot, err := proto.NewSlotFile()
	if err != nil {
		return nil, fmt.Errorf("creating the scoreboard slot: %w", err)
	}
	defer slotFile.Close()
	env = append(env, proto.EnvScoreboardFD+"="+strconv.Itoa(proto.ScoreboardFD))
	extra := []*os.File{slotFile}
	var pagesMaster *os.File
	if s.pages {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			slot.Close()
			return nil, fmt.Errorf("creating the page connection: %w", err)
		}
		pagesMaster = os.NewFile(uintptr(fds[0]), "gofpm-pages")
		pagesWorker := os.NewFile(uintptr(fds[1]), "gofpm-pages")
		defer pagesWorker.Close()
		extra = append(extra, pagesWorker) // fd 4: proto.PagesFD
	}
	if access != nil {
		// The access log is written by Go workers themselves, one line per
		// request, as php-fpm's workers do.
		env = append(env, proto.EnvAccessLogFD+"="+strconv.Itoa(3+len(extra)), proto.EnvAccessFormat+"="+s.accessFormat)
		if len(s.accessSuppress) > 0 {
			env = append(env, proto.EnvAccessSuppressPath+"="+strings.Join(s.accessSuppress, "\n"))
		}
		extra = append(extra, access)
	}
	stdin, private := s.sock, ""
	if s.private != nil {
		f, addr, err := s.private()
		if err != nil {
			slot.Close()
			closeFile(pagesMaster)
			return nil, err
		}
		defer f.Close() // the worker's from now on: a dead worker's socket refuses
		stdin, private = f, addr
	}
	var execErrR, execErrW *os.File
	if s.tramp {
		if execErrR, execErrW, err = os.Pipe(); err != nil {
			slot.Close()
			closeFile(pagesMaster)
			return nil, err
		}
		env = append(env, EnvExecErrFD+"="+strconv.Itoa(3+len(extra)))
		extra = append(extra, execErrW)
		defer execErrW.Close()
	}
	cmd := &exec.Cmd{
		Path:        s.path,
		Args:        s.args,
		Dir:         s.dir,
		Env:         env,
		Stdin:       stdin,
		ExtraFiles:  extra,
		SysProcAttr: childSysProcAttr(s.cred, s.session),
	}
	if s.deathSig != 0 {
		cmd.SysProcAttr.Pdeathsig = s.deathSig
	}
	var stdoutW, stderrW *os.File
	var stdoutR, stderrR *os.File
	if out != nil {
		if stdoutR, stdoutW, err = os.Pipe(); err != nil {
			slot.Close()
			closeFile(pagesMaster)
			return nil, err
		}
		if stderrR, stderrW, err = os.Pipe(); err != nil {
			stdoutR.Close()
			stdoutW.Close()
			slot.Close()
			closeFile(pagesMaster)
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	}
	err = startOwned(cmd)
	if out != nil {
		stdoutW.Close()
		stderrW.Close()
		if err != nil {
			stdoutR.Close()
			stderrR.Close()
		}
	}
	if err != nil {
		slot.Close()
		if pagesMaster != nil {
			pagesMaster.Close()
		}
		closeFile(execErrR)
		return nil, err
	}
	c := &child{pid: cmd.Process.Pid, cmd: cmd, started: time.Now(), slot: slot, pages: pagesMaster, execErr: execErrR, dispatchAddr: private}
	c.since = c.started
	if out != nil {
		go out.copy(c.pid, "stdout", stdoutR)
		go out.copy(c.pid, "stderr", stderrR)
	}
	return c, nil
}

func hasEnv(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// outputCatcher logs what workers write to stdout and stderr, line by line,
// as php-fpm's catch_workers_output does.
type outputCatcher struct {
	log      zerolog.Logger
	pool     string
	decorate bool
	limit    int  // longest line logged in one piece: log_limit
	json     bool // the error log is JSON: JSON lines are kept as objects (workerout.go)
}

func (o *outputCatcher) copy(pid int, stream string, r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 4096)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		full := len(line) > 0 && line[len(line)-1] == '\n'
		text := bytes.TrimSuffix(line, []byte("\n"))
		for len(text) > o.limit { // wrapped in pieces of log_limit bytes, as php-fpm
			o.emit(pid, stream, text[:o.limit], "")
			text = text[o.limit:]
		}
		if full || len(text) == o.limit {
			o.emit(pid, stream, text, "")
			text = text[:0]
		}
		line = append(line[:0], text...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if len(line) > 0 {
				o.emit(pid, stream, line, ", pipe is closed")
			}
			return
		}
	}
}

func (o *outputCatcher) emit(pid int, stream string, line []byte, suffix string) {
	if o.json && suffix == "" && o.emitJSON(pid, stream, line) {
		return
	}
	if !o.decorate {
		o.log.Warn().Int("pid", pid).Str("stream", stream).Msg(string(line))
		return
	}
	o.log.Warn().Int("pid", pid).Str("stream", stream).
		Msgf("[pool %s] child %d said into %s: \"%s\"%s", o.pool, pid, stream, line, suffix)
}

// closeFile closes f unless it is nil.
func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// exitReason classifies why a child left, for the recycle counters:
// idle (the pm scaled down), memory, timeout (request_terminate_timeout),
// recycle (a graceful restart the master asked for), max_requests (left on
// its own, cleanly: pm_max_requests or PHP_FCGI_MAX_REQUESTS), crash.
func (c *child) exitReason(clean bool) string {
	switch {
	case c.scaledDown:
		return "idle"
	case c.memory:
		return "memory"
	case c.terminating:
		return "timeout"
	case c.retiring:
		return "recycle"
	case clean:
		return "max_requests"
	}
	return "crash"
}
