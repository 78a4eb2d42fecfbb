package fpm

import (
	"fmt"
	"os"
	"sync"
)

// LogFile is an append-only log file that can be reopened after logrotate
// moved it away (SIGUSR1). It is safe for concurrent use.
type LogFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenLogFile opens path for appending, creating it with mode 0640.
func OpenLogFile(path string) (*LogFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening log file: %w", err)
	}
	return &LogFile{path: path, f: f}, nil
}

// Write appends p to the file.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen closes the file and opens path again.
func (l *LogFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("reopening log file: %w", err)
	}
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
