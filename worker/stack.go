package worker

import (
	"bytes"
	"runtime"
)

// The master sends proto.StackSignal when a request runs past
// request_slowlog_timeout; the worker answers with handlerStacks, written
// into its scoreboard slot.

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
