package worker

// This file is the connection filter: the one place where the worker looks
// at the FastCGI records between the web server and net/http/fcgi, which
// stays the responder. conn reads whole records with fcgi.ReadRecordWire
// and hands them on unchanged, except that it
//
//   - inserts, after each FCGI_BEGIN_REQUEST, a PARAMS record with
//     SERVER_PROTOCOL=HTTP/1.0 (net/http/fcgi answers 500 without it, and
//     minimal clients such as cgi-fcgi health checks do not send it; params
//     are read in order and later values win, so the client's own value
//     replaces it) and the request's abort token (filter_requests.go);
//   - bounds the PARAMS a request may send, however they are split into
//     records: net/http/fcgi buffers them without limit. Params beyond
//     MaxParamsBytes are answered 431 and the connection is closed;
//   - passes FCGI_ABORT_REQUEST on after cancelling the request's context;
//   - answers FCGI_GET_VALUES itself, with the worker's real concurrency
//     (net/http/fcgi claims FCGI_MPXS_CONNS=1 whatever is asked), and
//     management records of unknown types with FCGI_UNKNOWN_TYPE, as the
//     specification asks (section 4.2), instead of passing them on.
//
// The write side (filter_write.go) holds the end of an answer back to send
// it with its END_REQUEST in one write. Both sides keep the busy count, the
// scoreboard and the access log's view of the connection.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/gofpm/gofpm/fcgi"
)

// MaxParamsBytes bounds the FCGI_PARAMS content a connection may have
// buffered for requests that have not ended: 1 MiB, Go's
// http.DefaultMaxHeaderBytes. Web servers send far less (nginx refuses
// request headers beyond its large_client_header_buffers, 4 × 8 KiB by
// default).
const MaxParamsBytes = 1 << 20

// ErrParamsTooLarge ends a connection whose params exceed MaxParamsBytes.
var ErrParamsTooLarge = fmt.Errorf("worker: FastCGI params exceed %d bytes", MaxParamsBytes)

// tooLargeAnswer is the CGI response to params beyond the limit.
const tooLargeAnswer = "Status: 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nrequest header fields too large\n"

// conn is one web server connection, carried to net/http/fcgi by a session
// (session.go). The read side is used by the session's reading goroutine
// only; the write side by the handlers and the reading goroutine, under wmu.
type conn struct {
	net.Conn
	s *server

	// Read side.
	rb   *readBufs // nil once the read side has ended
	out  []byte    // bytes to hand out before the next record
	rerr error     // why the read side ended

	// Under s.mu.
	busy   bool // a request is in flight
	ending bool // its FCGI_END_REQUEST is being written
	closed bool

	wmu sync.Mutex // one Write at a time
	// After the handler of request holdID has returned, its last STDOUT
	// records are held in pending and go out with its END_REQUEST in one
	// write (under wmu): one syscall instead of three, and the web server
	// reads the whole answer at once (the gofpm front can then send it
	// with a Content-Length instead of chunks).
	holding bool
	holdID  uint16
	pending []byte
	pendBuf *[]byte // pending's pooled buffer (pendingPool), nil when none

	gmu  sync.Mutex
	reqs requests // the requests begun and not ended (filter_requests.go)

	dmu    sync.Mutex
	noDate []uint16 // page requests whose answer loses its Date header (pages.go)
}

// readBufs are a connection's read buffers, pooled: without FCGI_KEEP_CONN
// (nginx's default) every request has a connection of its own.
type readBufs struct {
	br    *bufio.Reader // the web server's bytes
	rec   []byte        // the current record, MaxRecordSize bytes
	ins   []byte        // a BEGIN_REQUEST and the PARAMS record inserted after it
	pairs []byte        // that record's content
	tok   []byte        // the text of its abort token
}

var readBufPool = sync.Pool{New: func() any {
	return &readBufs{br: bufio.NewReaderSize(nil, 4096), rec: make([]byte, fcgi.MaxRecordSize)}
}}

// newConn wraps c, just accepted, and tells the access log and the
// scoreboard. A new connection is busy from its accept, not from its first
// byte: a graceful stop must not exit between taking a connection from the
// queue and reading the request the web server is sending on it.
func newConn(c net.Conn, s *server) *conn { return initConn(new(conn), c, s) }

// initConn is newConn into cn, a conn no one uses any more: a session
// reuses its conn for the next connection once every request of the last
// one is finished.
func initConn(cn *conn, c net.Conn, s *server) *conn {
	s.alog.Accepted(c)
	s.mu.Lock()
	s.conns++
	s.busy++
	s.sb.Accepted()
	s.mu.Unlock()
	*cn = conn{Conn: c, s: s, busy: true}
	cn.rb = readBufPool.Get().(*readBufs)
	cn.rb.br.Reset((*source)(cn))
	return cn
}

// source is the web server's side of conn, below the read buffer.
type source conn

// Read reads from the socket; a connection with bytes coming is busy.
func (s *source) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	if n > 0 {
		(*conn)(s).markBusy()
	}
	return n, err
}

// records returns the next of the web server's records, filtered: whole
// records, valid until the next call. The session (session.go) reads them.
func (c *conn) records() ([]byte, error) {
	for len(c.out) == 0 {
		if c.rerr != nil {
			return nil, c.rerr
		}
		if err := c.next(); err != nil {
			c.endRead(err)
		}
	}
	out := c.out
	c.out = nil
	return out, nil
}

// endRead ends the read side with err: the read buffers go back to
// their pool, and records returns err from now on.
func (c *conn) endRead(err error) {
	if c.rerr != nil {
		return
	}
	c.rerr = err
	c.out = nil
	c.rb.br.Reset(nil)
	readBufPool.Put(c.rb)
	c.rb = nil
}

// buffered reports whether bytes of the web server's are read and not yet
// handed out.
func (c *conn) buffered() bool {
	return len(c.out) > 0 || c.rb != nil && c.rb.br.Buffered() > 0
}

// Read is records as a byte stream.
func (c *conn) Read(p []byte) (int, error) {
	if len(c.out) == 0 {
		out, err := c.records()
		if err != nil {
			return 0, err
		}
		c.out = out
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// next reads one record and decides what net/http/fcgi gets of it.
func (c *conn) next() error {
	rec, wire, err := fcgi.ReadRecordWire(c.rb.br, c.rb.rec)
	if err != nil {
		return err
	}
	// A record buffered while the previous request was answered is the
	// start of the next one.
	c.markBusy()
	id := rec.RequestID
	switch {
	case rec.Type == fcgi.TypeBeginRequest:
		c.out = c.begin(id, wire)
	case rec.Type == fcgi.TypeParams:
		if c.addParams(id, len(rec.Content)) {
			c.refuseParams(id)
			return ErrParamsTooLarge
		}
		c.out = wire
	case rec.Type == fcgi.TypeAbortRequest:
		c.abortRequest(id)
		c.out = wire
	case rec.Type == fcgi.TypeGetValues: // on any id, as net/http/fcgi would
		c.Write(c.getValuesResult(rec.Content))
	case id == 0 && (rec.Type == 0 || rec.Type > fcgi.TypeUnknownType):
		c.Write(fcgi.AppendUnknownType(nil, rec.Type))
	default:
		c.out = wire
	}
	return nil
}

// begin registers request id and returns its BEGIN_REQUEST record followed
// by the inserted PARAMS record.
func (c *conn) begin(id uint16, wire []byte) []byte {
	tok := c.beginRequest(id)
	b := c.rb
	b.tok = c.s.aborts.appendToken(b.tok[:0], tok)
	b.pairs = fcgi.AppendPair(b.pairs[:0], "SERVER_PROTOCOL", "HTTP/1.0")
	b.pairs = fcgi.AppendPair(b.pairs, abortParam, string(b.tok)) // copied: no allocation up to 32 bytes
	b.ins = fcgi.AppendRecords(append(b.ins[:0], wire...), fcgi.TypeParams, id, b.pairs)
	return b.ins
}

// getValuesResult answers FCGI_GET_VALUES with the names asked that the
// worker knows, in the order asked: as many connections as the worker's
// concurrency, one request on each (the scoreboard and the master count a
// connection as one request), no multiplexing.
func (c *conn) getValuesResult(query []byte) []byte {
	asked, _ := fcgi.ReadPairs(query, fcgi.MaxContentSize) // malformed: nothing known is asked
	n := strconv.Itoa(c.s.concurrency)
	var res []byte
	for _, name := range []string{fcgi.MaxConns, fcgi.MaxReqs, fcgi.MpxsConns} {
		if _, ok := asked[name]; !ok {
			continue
		}
		v := n
		if name == fcgi.MpxsConns {
			v = "0"
		}
		res = fcgi.AppendPair(res, name, v)
	}
	return fcgi.AppendRecords(nil, fcgi.TypeGetValuesResult, 0, res)
}

// refuseParams answers request id 431, says why on the worker's stderr
// and in an FCGI_STDERR record (nginx logs those), and ends the request.
func (c *conn) refuseParams(id uint16) {
	fmt.Fprintf(os.Stderr, "gofpm worker: request %d: FastCGI params exceed %d bytes, answered 431 and closed the connection\n", id, MaxParamsBytes)
	msg := fcgi.AppendRecords(nil, fcgi.TypeStderr, id, []byte(ErrParamsTooLarge.Error()))
	msg = fcgi.AppendRecords(msg, fcgi.TypeStdout, id, []byte(tooLargeAnswer))
	msg = fcgi.AppendRecords(msg, fcgi.TypeStdout, id, nil)
	c.Write(msg)
	c.Write(fcgi.AppendEndRequest(nil, id, 0, fcgi.StatusRequestComplete))
}

// markBusy counts the connection busy once bytes of a request arrive.
func (c *conn) markBusy() {
	c.s.mu.Lock()
	if !c.busy && !c.closed {
		c.busy = true
		c.s.busy++
		c.s.sb.Accepted()
	}
	c.s.mu.Unlock()
}
