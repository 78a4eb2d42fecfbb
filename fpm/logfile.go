package fpm

import (
	"fmt"
	"os"
	"sync"
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

// OpenLogFile opens path for appending, creating it with mode 0640.
func OpenLogFile(path string) (*LogFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening log file: %w", err)
	}
	return &LogFile{path: path, f: f}, nil
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
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
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
