package front

// This file holds the front's buffering options and what buffers are made
// of: memory, counted against one cap for the whole front, and unnamed
// temp files in a private folder (nginx's client_body_buffer_size,
// fastcgi_buffers and their temp paths).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/connlimit"
	"golang.org/x/sys/unix"
)

// Buffering is how the front buffers request bodies and answers so that
// a slow client never holds a worker, and its limits on slow clients.
// Zero sizes take the defaults below; zero durations and MaxConnections
// mean no limit.
type Buffering struct {
	// BodyBufferSize is the part of one request body kept in memory
	// (nginx's client_body_buffer_size); the rest goes to a temp file.
	BodyBufferSize int64
	// AnswerBufferSize is the part of one answer kept in memory while the
	// client reads slower than the worker writes; the rest goes to a temp
	// file.
	AnswerBufferSize int64
	// BufferMemory caps the memory of every buffered body and answer
	// together; past it, buffers go to temp files.
	BufferMemory int64
	// TempDir is where the private folder of temp files is made; "" for
	// os.TempDir().
	TempDir string
	// BodyTimeout bounds the receipt of a whole request body, from the end
	// of its header (408 after it).
	BodyTimeout time.Duration
	// SendTimeout bounds each write of an answer to the client (nginx's
	// send_timeout); a client that reads nothing for that long is cut.
	SendTimeout time.Duration
	// RequestTimeout bounds the whole exchange, from the end of the
	// request's header to the last byte of its answer; it would cut
	// streams, so it is off by default.
	RequestTimeout time.Duration
	// MaxConnections caps the client connections open at once; more wait
	// in the listen queue.
	MaxConnections int
	// MaxTempFileSize bounds the temp file of one answer (nginx's
	// fastcgi_max_temp_file_size): past it the worker is read only as
	// fast as the client reads.
	MaxTempFileSize int64
}

// The defaults of Buffering's sizes.
const (
	DefaultBodyBufferSize   = 64 << 10
	DefaultAnswerBufferSize = 256 << 10
	DefaultBufferMemory     = 64 << 20
	DefaultMaxTempFileSize  = 1 << 30
)

func (b *Buffering) setDefaults() {
	if b.BodyBufferSize <= 0 {
		b.BodyBufferSize = DefaultBodyBufferSize
	}
	if b.AnswerBufferSize <= 0 {
		b.AnswerBufferSize = DefaultAnswerBufferSize
	}
	if b.BufferMemory <= 0 {
		b.BufferMemory = DefaultBufferMemory
	}
	if b.MaxTempFileSize <= 0 {
		b.MaxTempFileSize = DefaultMaxTempFileSize
	}
}

// chunkSize is the unit of buffer memory: the buffers of copyBufs.
const chunkSize = 32 << 10

// buffers is the front's store: the memory it holds in spools and its
// folder of temp files.
type buffers struct {
	opts Buffering
	mem  atomic.Int64 // bytes of chunks held by spools

	once sync.Once
	mu   sync.Mutex // the folder against close
	dir  string     // the private folder; "" once closed
	dfd  int        // the folder, opened without following symlinks
	err  error      // why there is no folder
	seq  atomic.Uint64
}

// take reserves a chunk of memory under the global cap.
func (b *buffers) take() bool {
	if b.mem.Add(chunkSize) > b.opts.BufferMemory {
		b.mem.Add(-chunkSize)
		return false
	}
	return true
}

func (b *buffers) give() { b.mem.Add(-chunkSize) }

// openDir makes the private folder, mode 0700 with a random name under
// TempDir, and opens it with O_NOFOLLOW: files are then made relative to
// that descriptor, so nothing swapped in on the path later is followed.
func (b *buffers) openDir() {
	base := b.opts.TempDir
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "gofpm-front-")
	if err != nil {
		b.err = fmt.Errorf("http: temp_dir: %w", err)
		return
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		b.err = fmt.Errorf("http: temp_dir: opening %s: %w", dir, err)
		return
	}
	b.dir, b.dfd = dir, fd
}

// tempError is why a buffer could not get a temp file.
type tempError struct{ error }

func (e tempError) Unwrap() error { return e.error }

// tempFile returns a new temp file that has no name: O_TMPFILE where the
// filesystem has it, else a file made with O_EXCL|O_NOFOLLOW and unlinked
// at once. Its space is freed when it is closed.
func (b *buffers) tempFile() (*os.File, error) {
	f, err := b.newTemp()
	if err != nil {
		return nil, tempError{err}
	}
	return f, nil
}

func (b *buffers) newTemp() (*os.File, error) {
	b.once.Do(b.openDir)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	if b.dir == "" {
		return nil, errors.New("http: the front has stopped")
	}
	fd, err := unix.Openat(b.dfd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(b.dir, "(unnamed)")), nil
	}
	name := "b" + strconv.FormatUint(b.seq.Add(1), 10)
	fd, err = unix.Openat(b.dfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("http: temp file in %s: %w", b.dir, err)
	}
	if err := unix.Unlinkat(b.dfd, name, 0); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("http: temp file in %s: %w", b.dir, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(b.dir, name)), nil
}

// close removes the private folder (its files have no names; their
// space goes when the last spool closes them).
func (b *buffers) close() {
	b.once.Do(func() {})
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		unix.Close(b.dfd)
		os.Remove(b.dir)
		b.dir = ""
	}
}

// initBuffering sets up s's buffers and caps its connections.
func (s *Server) initBuffering() {
	s.opts.Buffering.setDefaults()
	s.bufs.opts = s.opts.Buffering
	if n := s.opts.MaxConnections; n > 0 && s.ln != nil {
		s.ln = connlimit.New(s.ln, n, "http: max_connections", s.log)
	}
}
