package worker

import (
	"bytes"
	"runtime"

	"golang.org/x/sys/unix"
)

// StackSignal asks a worker for the stack of the goroutines serving its
// requests: the master sends it when a request runs past
// request_slowlog_timeout, and the worker writes the stacks into its
// scoreboard slot for the slowlog. No ptrace is needed, so it works in
// containers and across users.
const StackSignal = unix.SIGUSR2

// handlerMarker is a frame present in every goroutine that runs a handler
// under net/http/fcgi.
var handlerMarker = []byte("net/http/fcgi.(*child).serveRequest")

// handlerStacks returns the stacks of the goroutines running handlers, or
// every goroutine's stack when none is found.
func handlerStacks() []byte {
	buf := make([]byte, 256<<10)
	buf = buf[:runtime.Stack(buf, true)]
	var out []byte
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, handlerMarker) {
			out = append(append(out, g...), '\n', '\n')
		}
	}
	if out == nil {
		return buf
	}
	return out
}
