package kstate

import "errors"

// Wait says what the kernel reported a worker doing, from /proc/PID/syscall.
type Wait uint8

const (
	WaitUnknown Wait = iota // /proc/PID/syscall unreadable, or multi-threaded with no connection
	WaitAccept              // blocked in accept (or the accept lock) on the pool's listener
	WaitConn                // blocked reading an accepted connection: keep-alive wait or reading a request
	WaitRunning             // on a CPU or runnable
	WaitOther               // blocked in some other system call (sleep, database, poll, ...)
)

func (w Wait) String() string {
	switch w {
	case WaitAccept:
		return "accept"
	case WaitConn:
		return "conn-read"
	case WaitRunning:
		return "running"
	case WaitOther:
		return "other"
	}
	return "unknown"
}

// Worker is one worker's state in a snapshot.
type Worker struct {
	Busy bool   // holds an accepted connection of the pool's listener
	Conn uint64 // inode of one accepted connection it holds, 0 if none
	// Conns counts the accepted connections held, as of the last full
	// listing of /proc/PID/fd (a worker still on the connection found then
	// is not listed again).
	Conns int
	Wait  Wait
}

// ErrClosed is returned by the methods of a Probe after Close.
var ErrClosed = errors.New("kernel probe closed")
