package worker

// This file guards a worker against what net/http/fcgi takes without a
// limit or ignores, and passes an abort on to the handler:
//
//   - PARAMS: net/http/fcgi buffers a request's params until the empty
//     PARAMS record, without limit. A connection whose unfinished params
//     exceed MaxParamsBytes is answered 431 and closed.
//   - Management records (request id 0) of a type net/http/fcgi does not
//     know are answered FCGI_UNKNOWN_TYPE, as the specification asks
//     (section 4.2); net/http/fcgi ignores them.
//   - Aborts: net/http/fcgi never cancels a request's context. The worker
//     cancels it when the web server sends FCGI_ABORT_REQUEST for the
//     request or closes the connection (nginx's answer to a client that
//     went away), so a handler waiting on r.Context() stops at once.
//
// The handler learns which connection and request it serves through a
// param the worker inserts after BEGIN_REQUEST (abortParam, a random
// per-process prefix and a counter) and takes out of fcgi.ProcessEnv
// before the handler runs.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/fcgi"
	"os"
	"strconv"
	"sync"

	gofcgi "github.com/gofpm/gofpm/fcgi"
)

// MaxParamsBytes bounds the FCGI_PARAMS content a connection may have
// buffered for requests whose params have not ended: 1 MiB, Go's
// http.DefaultMaxHeaderBytes. Web servers send far less (nginx refuses
// request headers beyond its large_client_header_buffers, 4 × 8 KiB by
// default).
const MaxParamsBytes = 1 << 20

// abortParam carries the request's token from the connection to the
// handler; the handler never sees it.
const abortParam = "GOFPM_ABORT_TOKEN"

// ErrParamsTooLarge ends a connection whose params exceed MaxParamsBytes.
var ErrParamsTooLarge = fmt.Errorf("worker: FastCGI params exceed %d bytes", MaxParamsBytes)

// ErrConnClosed is the cause of a request's context when the web server
// closed the connection before the request ended.
var ErrConnClosed = errors.New("worker: web server closed the connection")

// fcgiMaxType is FCGI_MAXTYPE: the highest record type of FastCGI 1.0.
const fcgiMaxType = 11

// tooLargeAnswer is the CGI response to params beyond the limit.
const tooLargeAnswer = "Status: 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nrequest header fields too large\n"

// aborts maps the tokens of the requests in flight to their cancel
// functions. It is shared by the connections of one worker.
type aborts struct {
	mu     sync.Mutex
	prefix string
	seq    uint64
	live   map[string]*inflight
}

type inflight struct {
	cancel context.CancelCauseFunc // set once the handler runs
	cause  error                   // set when aborted before the handler ran
	c      *conn                   // the connection, for the handler's return (conn.handlerDone)
	id     uint16                  // the request id on it
}

// begin registers request id of c and returns its token.
func (a *aborts) begin(c *conn, id uint16) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.live == nil {
		var b [8]byte
		rand.Read(b[:])
		a.prefix = hex.EncodeToString(b[:]) + "-"
		a.live = map[string]*inflight{}
	}
	a.seq++
	tok := a.prefix + strconv.FormatUint(a.seq, 10)
	a.live[tok] = &inflight{c: c, id: id}
	return tok
}

// abort cancels the request of tok (or marks it, if its handler has not
// started) and forgets it when forget is set.
func (a *aborts) abort(tok string, cause error, forget bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.live[tok]
	if f == nil {
		return
	}
	if forget {
		delete(a.live, tok)
	}
	if cause == nil {
		return
	}
	if f.cancel != nil {
		f.cancel(cause)
	} else if f.cause == nil {
		f.cause = cause
	}
}

// attach gives r a context that an abort of its request cancels, and
// returns the connection and id it came on; r is returned unchanged, with
// a nil cancel and conn, when it carries no token the worker knows.
func (a *aborts) attach(r *http.Request) (*http.Request, context.CancelCauseFunc, *conn, uint16) {
	env := fcgi.ProcessEnv(r)
	tok, ok := env[abortParam]
	if !ok {
		return r, nil, nil, 0
	}
	delete(env, abortParam)
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.live[tok]
	if f == nil || f.cancel != nil {
		return r, nil, nil, 0
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	if f.cause != nil {
		cancel(f.cause)
	} else {
		f.cancel = cancel
	}
	return r.WithContext(ctx), cancel, f.c, f.id
}

// guard is the per-connection state of this file, under conn.gmu.
type guard struct {
	tokens map[uint16]string // request id → token, while the request is in flight
	params map[uint16]int    // request id → params bytes buffered so far
	total  int               // sum of params
	bad    error             // the connection must end with this error
}

// onHeader sees each record header the web server sends (from the reading
// goroutine).
func (c *conn) onHeader(typ byte, id uint16, clen int) {
	c.gmu.Lock()
	g := &c.g
	switch {
	case typ == fcgiBeginRequest:
		g.total -= g.params[id]
		delete(g.params, id)
	case typ == fcgiParams && clen == 0:
		g.total -= g.params[id]
		delete(g.params, id)
	case typ == fcgiParams:
		if g.params == nil {
			g.params = map[uint16]int{}
		}
		g.params[id] += clen
		g.total += clen
		if g.total > MaxParamsBytes && g.bad == nil {
			g.bad = ErrParamsTooLarge
			c.gmu.Unlock()
			c.refuseParams(id)
			return
		}
	case typ == fcgiAbortRequest:
		if tok, ok := g.tokens[id]; ok {
			c.s.aborts.abort(tok, fcgi.ErrRequestAborted, false)
		}
	case id == 0 && (typ == 0 || typ > fcgiMaxType):
		c.gmu.Unlock()
		c.Write(gofcgi.AppendUnknownType(nil, gofcgi.RecordType(typ)))
		return
	}
	c.gmu.Unlock()
}

// refuseParams answers request id 431, says why on the worker's stderr
// and in an FCGI_STDERR record (nginx logs those), and ends the request.
func (c *conn) refuseParams(id uint16) {
	fmt.Fprintf(os.Stderr, "gofpm worker: request %d: FastCGI params exceed %d bytes, answered 431 and closed the connection\n", id, MaxParamsBytes)
	msg := gofcgi.AppendRecords(nil, gofcgi.TypeStderr, id, []byte(ErrParamsTooLarge.Error()))
	msg = gofcgi.AppendRecords(msg, gofcgi.TypeStdout, id, []byte(tooLargeAnswer))
	msg = gofcgi.AppendRecords(msg, gofcgi.TypeStdout, id, nil)
	c.Write(msg[:len(msg):len(msg)])
	c.Write(gofcgi.AppendEndRequest(nil, id, 0, gofcgi.StatusRequestComplete))
}

// onBegin registers request id of this connection and returns the pair to
// insert with its params.
func (c *conn) onBegin(id uint16) []byte {
	tok := c.s.aborts.begin(c, id)
	c.gmu.Lock()
	old, had := c.g.tokens[id]
	if c.g.tokens == nil {
		c.g.tokens = map[uint16]string{}
	}
	c.g.tokens[id] = tok
	c.gmu.Unlock()
	if had { // a BEGIN_REQUEST for an id in flight: net/http/fcgi ends the connection
		c.s.aborts.abort(old, nil, true)
	}
	return gofcgi.AppendPair(nil, abortParam, tok)
}

// onEnd forgets request id once its FCGI_END_REQUEST is written.
func (c *conn) onEnd(id uint16) {
	c.gmu.Lock()
	tok, ok := c.g.tokens[id]
	delete(c.g.tokens, id)
	c.g.total -= c.g.params[id]
	delete(c.g.params, id)
	c.gmu.Unlock()
	if ok {
		c.s.aborts.abort(tok, nil, true)
	}
}

// onClose cancels every request still in flight on the connection.
func (c *conn) onClose() {
	c.gmu.Lock()
	toks := c.g.tokens
	c.g.tokens = nil
	c.gmu.Unlock()
	for _, tok := range toks {
		c.s.aborts.abort(tok, ErrConnClosed, true)
	}
}

// badErr returns the error that must end the connection, if any.
func (c *conn) badErr() error {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	return c.g.bad
}
