package worker

// This file is the filter's account of the requests in flight: per
// connection, the params each has sent and its abort token; per worker, the
// tokens that link a request's handler to its connection.
//
// net/http/fcgi never cancels a request's context. The worker cancels it
// when the web server sends FCGI_ABORT_REQUEST for the request or closes the
// connection (nginx's answer to a client that went away), so a handler
// waiting on r.Context() stops at once. The handler learns which connection
// and request it serves through a param the filter inserts after
// BEGIN_REQUEST (abortParam, a random per-process prefix and a counter) and
// takes out of stdfcgi.ProcessEnv before the handler runs.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	stdfcgi "net/http/fcgi"
	"strconv"
	"strings"
	"sync"
)

// abortParam carries the request's token from the connection to the
// handler; the handler never sees it.
const abortParam = "GOFPM_ABORT_TOKEN"

// ErrConnClosed is the cause of a request's context when the web server
// closed the connection before the request ended.
var ErrConnClosed = errors.New("worker: web server closed the connection")

// request is what a connection knows of one request id.
type request struct {
	id     uint16
	tok    uint64 // 0 before its BEGIN_REQUEST
	params int    // PARAMS content bytes since its BEGIN_REQUEST
	stdout bool   // a STDOUT record of its answer was written or held
}

// requests are a connection's requests by id, under conn.gmu: the first
// inline (web servers never multiplex, so this is the only one), others in
// a map.
type requests struct {
	one   request
	inOne bool
	more  map[uint16]*request
	total int // the params of all
}

// get returns the request of id, adding it when add is set; nil if absent.
func (rs *requests) get(id uint16, add bool) *request {
	if rs.inOne && rs.one.id == id {
		return &rs.one
	}
	if r := rs.more[id]; r != nil || !add {
		return r
	}
	if !rs.inOne {
		rs.one, rs.inOne = request{id: id}, true
		return &rs.one
	}
	if rs.more == nil {
		rs.more = map[uint16]*request{}
	}
	r := &request{id: id}
	rs.more[id] = r
	return r
}

// drop forgets request id and returns it.
func (rs *requests) drop(id uint16) (request, bool) {
	var r request
	switch {
	case rs.inOne && rs.one.id == id:
		r, rs.inOne = rs.one, false
	case rs.more[id] != nil:
		r = *rs.more[id]
		delete(rs.more, id)
	default:
		return r, false
	}
	rs.total -= r.params
	return r, true
}

// tokens appends the tokens of every request to toks and forgets them all.
func (rs *requests) tokens(toks []uint64) []uint64 {
	if rs.inOne && rs.one.tok != 0 {
		toks = append(toks, rs.one.tok)
	}
	for _, r := range rs.more {
		if r.tok != 0 {
			toks = append(toks, r.tok)
		}
	}
	*rs = requests{}
	return toks
}

// beginRequest starts request id on c and returns its token. A
// BEGIN_REQUEST for an id in flight replaces it (net/http/fcgi then ends
// the connection).
func (c *conn) beginRequest(id uint16) uint64 {
	tok := c.s.aborts.begin(c, id)
	c.gmu.Lock()
	r := c.reqs.get(id, true)
	old := r.tok
	c.reqs.total -= r.params
	r.tok, r.params = tok, 0
	c.gmu.Unlock()
	if old != 0 {
		c.s.aborts.abort(old, nil, true)
	}
	return tok
}

// addParams counts n bytes of PARAMS content for request id, and reports
// whether the connection's params now exceed MaxParamsBytes. The count of
// a request holds from its BEGIN_REQUEST to its END_REQUEST, however its
// params are split into records: an empty PARAMS record does not reset it,
// since net/http/fcgi keeps what it parsed and takes more params after it.
// Params for an id with no request are counted too, until the connection
// ends: net/http/fcgi may still buffer them.
func (c *conn) addParams(id uint16, n int) bool {
	if n == 0 {
		return false
	}
	c.gmu.Lock()
	defer c.gmu.Unlock()
	c.reqs.get(id, true).params += n
	c.reqs.total += n
	return c.reqs.total > MaxParamsBytes
}

// abortRequest cancels the context of request id, for FCGI_ABORT_REQUEST.
func (c *conn) abortRequest(id uint16) {
	c.gmu.Lock()
	var tok uint64
	if r := c.reqs.get(id, false); r != nil {
		tok = r.tok
	}
	c.gmu.Unlock()
	if tok != 0 {
		c.s.aborts.abort(tok, stdfcgi.ErrRequestAborted, false)
	}
}

// firstStdout reports whether a STDOUT record of request id is the first
// of its answer, and marks it written.
func (c *conn) firstStdout(id uint16) bool {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	r := c.reqs.get(id, false)
	if r == nil || r.stdout {
		return false
	}
	r.stdout = true
	return true
}

// live reports whether request id is still the one of token tok: not
// ended, and its id not reused by the next request.
func (c *conn) live(id uint16, tok uint64) bool {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	r := c.reqs.get(id, false)
	return r != nil && r.tok == tok
}

// onEnd forgets request id once its FCGI_END_REQUEST is written.
func (c *conn) onEnd(id uint16) {
	c.keepDate(id)
	c.gmu.Lock()
	r, ok := c.reqs.drop(id)
	c.gmu.Unlock()
	if ok && r.tok != 0 {
		c.s.aborts.abort(r.tok, nil, true)
	}
}

// onClose cancels every request still in flight on the connection.
func (c *conn) onClose() {
	var buf [1]uint64 // web servers do not multiplex: one request at most
	c.gmu.Lock()
	toks := c.reqs.tokens(buf[:0])
	c.gmu.Unlock()
	for _, tok := range toks {
		c.s.aborts.abort(tok, ErrConnClosed, true)
	}
}

// aborts maps the tokens of the requests in flight to their cancel
// functions. It is shared by the connections of one worker. A token is a
// counter; its text in abortParam is the per-process prefix and the
// counter in decimal (appendToken).
type aborts struct {
	mu     sync.Mutex
	prefix string
	seq    uint64
	live   map[uint64]inflight // by value: no allocation per request
}

type inflight struct {
	cancel context.CancelCauseFunc // set once the handler runs
	cause  error                   // set when aborted before the handler ran
	c      *conn                   // the connection, for the handler's return (conn.handlerDone)
	id     uint16                  // the request id on it
}

// begin registers request id of c and returns its token.
func (a *aborts) begin(c *conn, id uint16) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.live == nil {
		var b [8]byte
		rand.Read(b[:])
		a.prefix = hex.EncodeToString(b[:]) + "-"
		a.live = map[uint64]inflight{}
	}
	a.seq++
	a.live[a.seq] = inflight{c: c, id: id}
	return a.seq
}

// appendToken appends the text of tok, as abortParam carries it, to dst.
func (a *aborts) appendToken(dst []byte, tok uint64) []byte {
	a.mu.Lock()
	prefix := a.prefix
	a.mu.Unlock()
	return strconv.AppendUint(append(dst, prefix...), tok, 10)
}

// parseToken is appendToken's inverse; 0 for a text not of this process.
func (a *aborts) parseToken(s string) uint64 {
	rest, ok := strings.CutPrefix(s, a.prefix)
	if !ok || a.prefix == "" {
		return 0
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// abort cancels the request of tok (or marks it, if its handler has not
// started) and forgets it when forget is set.
func (a *aborts) abort(tok uint64, cause error, forget bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.live[tok]
	if !ok {
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
		a.live[tok] = f
	}
}

// attach gives r a context that an abort of its request cancels, and
// returns the connection, id and token it came with; r is returned
// unchanged, with a nil cancel and conn, when it carries no token the
// worker knows.
func (a *aborts) attach(r *http.Request) (*http.Request, context.CancelCauseFunc, *conn, uint16, uint64) {
	env := stdfcgi.ProcessEnv(r)
	text, ok := env[abortParam]
	if !ok {
		return r, nil, nil, 0, 0
	}
	delete(env, abortParam)
	a.mu.Lock()
	defer a.mu.Unlock()
	tok := a.parseToken(text)
	f, ok := a.live[tok]
	if !ok || f.cancel != nil {
		return r, nil, nil, 0, 0
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	if f.cause != nil {
		cancel(f.cause)
	} else {
		f.cancel = cancel
		a.live[tok] = f
	}
	return r.WithContext(ctx), cancel, f.c, f.id, tok
}
