package fpm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// logErrEvery is how often at most a LogFile returns a write error: a full
// disk must not turn every log line into an error line of its own.
const logErrEvery = time.Minute

// LogFile is an append-only log file that can be reopened after logrotate
// moved it away (SIGUSR1). It is safe for concurrent use.
type LogFile struct {
	path string
	mu   sync.Mutex
	f    *os.File

	errAt time.Time // when a write error was last returned
	lost  int       // lines lost since then
}

// OpenLogFile opens path for appending, creating it with mode 0640
// (see openLog).
func OpenLogFile(path string) (*LogFile, error) {
	f, err := openLog(path)
	if err != nil {
		return nil, fmt.Errorf("opening log file: %w", err)
	}
	return &LogFile{path: path, f: f}, nil
}

// openLog opens path for appending, creating it with mode 0640. In a
// folder that someone other than the master's user and root may write
// (group or others have w, sticky or not, or another user owns it),
// that someone could plant a symbolic link (to /etc/shadow, say) for a
// root master to append to, or a file of their own to read the log
// from. There the last component is opened without following a link
// (O_NOFOLLOW), and the file must be a regular file owned by the master's
// user or root. Elsewhere (/var/log, /dev, /proc/self/fd) links are
// followed as usual, so error_log = "/dev/stderr" keeps working.
func openLog(path string) (*os.File, error) {
	flags := os.O_WRONLY | os.O_APPEND | os.O_CREATE | syscall.O_CLOEXEC
	shared := sharedDir(filepath.Dir(path))
	if shared {
		flags |= syscall.O_NOFOLLOW | syscall.O_NONBLOCK // O_NONBLOCK: a planted FIFO must not hang the master
	}
	f, err := os.OpenFile(path, flags, 0o640)
	if err != nil {
		if shared && errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link in %s, a folder others can write, and is not followed there; log to the link's target or to a folder only the master's user can write", path, filepath.Dir(path))
		}
		return nil, err
	}
	if shared {
		var st syscall.Stat_t
		err := syscall.Fstat(int(f.Fd()), &st)
		switch {
		case err != nil:
		case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
			err = fmt.Errorf("%s is not a regular file, in %s, a folder others can write", path, filepath.Dir(path))
		case st.Uid != 0 && int(st.Uid) != os.Geteuid():
			err = fmt.Errorf("%s belongs to uid %d, in %s, a folder others can write; remove it or log to a folder only the master's user can write", path, st.Uid, filepath.Dir(path))
		}
		if err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// sharedDir reports whether someone other than this process's user and
// root may create or rename entries in dir.
func sharedDir(dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false // the open fails on its own
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return fi.Mode().Perm()&0o022 != 0 || (st.Uid != 0 && int(st.Uid) != os.Geteuid())
}

// Write appends p to the file. When the write fails (a full disk), p is
// lost and the error is returned at most once per minute, saying how many
// lines were lost since the last one; the other failed writes report
// success, so that the caller goes on and does not log each of them.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.f.Write(p)
	if err == nil {
		return n, nil
	}
	return l.failed(err, time.Now(), len(p))
}

// failed applies the once-a-minute rule to a write error at now.
func (l *LogFile) failed(err error, now time.Time, n int) (int, error) {
	l.lost++
	if !l.errAt.IsZero() && now.Sub(l.errAt) < logErrEvery {
		return n, nil
	}
	lost := l.lost
	l.errAt, l.lost = now, 0
	return 0, fmt.Errorf("writing log file %s: %w (%d line(s) lost; reported once a minute at most)", l.path, err, lost)
}

// Reopen closes the file and opens path again.
func (l *LogFile) Reopen() error {
	f, err := l.openAgain()
	if err != nil {
		return err
	}
	return l.install(f)
}

// openAgain opens path again, for install: a pool opens the new file
// beside its loop and installs it in the loop, between two spawns that
// hand the file to a child.
func (l *LogFile) openAgain() (*os.File, error) {
	f, err := openLog(l.path)
	if err != nil {
		return nil, fmt.Errorf("reopening log file: %w", err)
	}
	return f, nil
}

// install makes f the file written to and closes the previous one.
func (l *LogFile) install(f *os.File) error {
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Close closes the file.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// Path returns the file's path.
func (l *LogFile) Path() string { return l.path }

// File returns the open file, for handing it to a child process; it stays
// valid until the next Reopen or Close.
func (l *LogFile) File() *os.File {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f
}
