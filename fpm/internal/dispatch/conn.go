package dispatch

// This file reads the requests of one client connection: management
// records, BEGIN_REQUEST, PARAMS and the STDIN that has come with them,
// into the bytes that go to a worker as they are (the request id
// rewritten), and what the dispatcher needs to know of the params.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// retainMax is how much of a request (its records as they go to the
// worker) the dispatcher holds before it gives the request to a worker: a
// request with a body up to this size is read whole first, so it can be
// given to another worker if the first dies before reading it, and a slow
// client holds no worker while it sends.
const retainMax = 128 << 10

// flushAt is the size at which the relayed answer is written to the
// client even while more is buffered from the worker.
const flushAt = 64 << 10

// workerID is the request id on a worker's connection: one request at a
// time runs there.
const workerID = 1

// connBufs are a client connection's buffers, pooled.
type connBufs struct {
	in     *bufio.Reader
	head   []byte // the request as it goes to the worker
	params []byte // PARAMS content
	out    []byte // the answer being relayed, coalesced
	strs   *strCache
}

func newConnBufs() any {
	return &connBufs{
		in:     bufio.NewReaderSize(nil, 16<<10),
		head:   make([]byte, 0, 4096),
		params: make([]byte, 0, 4096),
		out:    make([]byte, 0, flushAt+fcgi.MaxRecordSize),
		strs:   newStrCache(),
	}
}

// clientConn is one connection from the web server (or the front).
type clientConn struct {
	d *Dispatcher
	c net.Conn
	b *connBufs

	mu    sync.Mutex
	idle  bool // waiting for a request: Shutdown may end the wait
	begun bool // a record came: a wait now is between requests
	timed bool // Shutdown set a read deadline on the wait for the first request

	held  int               // bytes of the current request counted in Dispatcher.held
	local map[string]string // the params of a request for LocalPaths
	tail  []byte            // the end of an answer, written after the worker's release
	p     pending           // the request being served (here, not on the heap per request)
}

// firstRequestWait is how long a connection that has sent no request yet
// may take to send its first one once Shutdown began. A web server writes
// its request as soon as it has connected, so the request is on the way
// (or already in the socket's buffer, read late on a loaded machine):
// ending such a connection would reset that request, where between two
// requests of a kept connection nothing is lost. Go's net/http gives new
// connections 5 s in its Shutdown too.
const firstRequestWait = 5 * time.Second

// wakeIdle ends the wait of a connection between requests, or bounds the
// wait for its first request (Shutdown).
func (cc *clientConn) wakeIdle() {
	cc.mu.Lock()
	if cc.idle {
		cc.c.SetReadDeadline(cc.idleEnd())
		cc.timed = !cc.begun
	}
	cc.mu.Unlock()
}

// idleEnd is when the wait of an idle connection ends after Shutdown.
func (cc *clientConn) idleEnd() time.Time {
	if cc.begun {
		return aLongTimeAgo
	}
	return time.Now().Add(firstRequestWait)
}

// setIdle marks the connection waiting for a request, or reading one. It
// reports false when the connection is to end instead of waiting: Shutdown
// began and a request was served on it already.
func (cc *clientConn) setIdle(idle bool) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	came := !idle && cc.idle // a record came
	cc.idle = idle
	if came && !cc.begun {
		cc.begun = true
		if cc.timed { // the first request is read whole, however long after Shutdown
			cc.c.SetReadDeadline(time.Time{})
		}
	}
	if !idle {
		return true
	}
	cc.d.mu.Lock()
	closed := cc.d.closed
	cc.d.mu.Unlock()
	if closed && !cc.begun {
		cc.c.SetReadDeadline(cc.idleEnd())
		cc.timed = true
		return true
	}
	return !closed
}

// pending is a request read from the client.
type pending struct {
	id       uint16
	keep     bool // the client's FCGI_KEEP_CONN
	complete bool // head holds the whole request, STDIN end included
	req      Request
	name     string // SCRIPT_NAME, for LocalPaths
}

func (cc *clientConn) serve() {
	cc.b = cc.d.bufs.Get().(*connBufs)
	cc.b.in.Reset(cc.c)
	defer func() {
		cc.b.in.Reset(nil)
		cc.d.bufs.Put(cc.b)
	}()
	for {
		if !cc.setIdle(true) {
			return
		}
		p := &cc.p
		*p = pending{}
		err := cc.read(p)
		cc.setIdle(false)
		if err != nil {
			cc.hold(0)
			return
		}
		ok := cc.handle(p)
		cc.hold(0)
		if !ok || !p.keep {
			return
		}
	}
}

// hold counts n bytes as the current request's in the dispatcher's
// total, and reports whether the total stays within MaxHeld.
func (cc *clientConn) hold(n int) bool {
	d := cc.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if n > cc.held && d.held+n-cc.held > d.cfg.MaxHeld {
		return false
	}
	d.held += n - cc.held
	cc.held = n
	return true
}

// errProtocol ends a client connection that broke the protocol.
var errProtocol = errors.New("dispatch: protocol error")

// readRecord appends the next record of r, as it is on the wire, to dst.
func readRecord(r *bufio.Reader, dst []byte) (fcgi.Header, []byte, error) {
	hb, err := r.Peek(fcgi.HeaderSize)
	if err != nil {
		if err == io.EOF && len(hb) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return fcgi.Header{}, dst, err
	}
	h, err := fcgi.ParseHeader(hb)
	if err != nil {
		return h, dst, err
	}
	n := fcgi.HeaderSize + h.ContentLength + h.PaddingLength
	start := len(dst)
	if cap(dst)-start < n {
		dst = append(dst[:start:start], make([]byte, n)...)[:start]
	}
	dst = dst[:start+n]
	if _, err := io.ReadFull(r, dst[start:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, dst[:start], err
	}
	return h, dst, nil
}

// setID rewrites the request id of the record at the start of rec.
func setID(rec []byte, id uint16) { rec[2], rec[3] = byte(id>>8), byte(id) }

// read reads the next request: management records are answered on the
// way, a second request while one is open is refused (FCGI_CANT_MPX_CONN).
// It returns with the params read and, when the body is small, the whole
// body.
func (cc *clientConn) read(p *pending) error {
	b, in := cc.b, cc.b.in
	b.head, b.params = b.head[:0], b.params[:0]
	begun, paramsDone := false, false
	for {
		if !cc.hold(len(b.head) + len(b.params)) {
			return fmt.Errorf("%w: the requests held pass %d bytes", errProtocol, cc.d.cfg.MaxHeld)
		}
		start := len(b.head)
		h, head, err := readRecord(in, b.head)
		if err != nil {
			b.head = head
			return err
		}
		cc.setIdle(false)
		rec := head[start:]
		content := rec[fcgi.HeaderSize : fcgi.HeaderSize+h.ContentLength]
		b.head = head[:start] // kept only where appended again below
		switch {
		case h.RequestID == 0:
			if err := cc.management(h.Type, content); err != nil {
				return err
			}
			continue
		case h.Type == fcgi.TypeBeginRequest:
			if begun {
				cc.write(fcgi.AppendEndRequest(b.out[:0], h.RequestID, 0, fcgi.StatusCantMultiplex))
				continue
			}
			role, keep, err := fcgi.ParseBeginRequest(content)
			if err != nil {
				return err
			}
			if role != fcgi.RoleResponder {
				cc.write(fcgi.AppendEndRequest(b.out[:0], h.RequestID, 0, fcgi.StatusUnknownRole))
				if !keep {
					return io.EOF
				}
				continue
			}
			begun, p.id, p.keep = true, h.RequestID, keep
			b.head = fcgi.AppendBeginRequest(b.head[:0], workerID, fcgi.RoleResponder, true)
			continue
		case !begun || h.RequestID != p.id:
			continue // a record of a refused or aborted request
		case h.Type == fcgi.TypeAbortRequest:
			cc.write(fcgi.AppendEndRequest(b.out[:0], p.id, 0, fcgi.StatusRequestComplete))
			if !p.keep {
				return io.EOF
			}
			b.head = b.head[:0]
			begun, paramsDone = false, false
			continue
		case h.Type == fcgi.TypeParams && !paramsDone:
			if len(b.params)+len(content) > cc.d.cfg.MaxParams {
				return fmt.Errorf("%w: params larger than %d bytes", errProtocol, cc.d.cfg.MaxParams)
			}
			b.params = append(b.params, content...)
			setID(rec, workerID)
			b.head = head[:start+len(rec)]
			if len(content) > 0 {
				continue
			}
			paramsDone = true
			if err := cc.parseParams(p); err != nil {
				return err
			}
			if cc.stdinReady(p) {
				return nil
			}
			continue
		case h.Type == fcgi.TypeStdin && paramsDone:
			setID(rec, workerID)
			b.head = head[:start+len(rec)]
			if len(content) == 0 {
				p.complete = true
				return nil
			}
			if cc.stdinReady(p) {
				return nil
			}
			continue
		default:
			return fmt.Errorf("%w: %v record out of place", errProtocol, h.Type)
		}
	}
}

// stdinReady reports whether the request may go to a worker before more
// of its body is read: its body is larger than retainMax and the next
// record has not come whole yet.
func (cc *clientConn) stdinReady(p *pending) bool {
	if p.req.ContentLength <= retainMax && len(cc.b.head) < retainMax {
		return false
	}
	return !recordBuffered(cc.b.in) || len(cc.b.head) >= retainMax
}

// recordBuffered reports whether a whole record waits in r's buffer.
func recordBuffered(r *bufio.Reader) bool {
	if r.Buffered() < fcgi.HeaderSize {
		return false
	}
	hb, _ := r.Peek(fcgi.HeaderSize)
	h, err := fcgi.ParseHeader(hb)
	return err == nil && r.Buffered() >= fcgi.HeaderSize+h.ContentLength+h.PaddingLength
}

// management answers a record of request id 0: FCGI_GET_VALUES with the
// dispatcher's values, anything else with FCGI_UNKNOWN_TYPE.
func (cc *clientConn) management(t fcgi.RecordType, content []byte) error {
	if t != fcgi.TypeGetValues {
		return cc.write(fcgi.AppendUnknownType(cc.b.out[:0], t))
	}
	asked, err := fcgi.ReadPairs(content, fcgi.MaxContentSize)
	if err != nil {
		return err
	}
	var pairs []byte
	for name := range asked {
		switch name {
		case fcgi.MaxConns, fcgi.MaxReqs:
			pairs = fcgi.AppendPair(pairs, name, strconv.Itoa(cc.d.cfg.MaxConns))
		case fcgi.MpxsConns:
			pairs = fcgi.AppendPair(pairs, name, "0")
		}
	}
	return cc.write(fcgi.AppendRecords(cc.b.out[:0], fcgi.TypeGetValuesResult, 0, pairs))
}

// parseParams fills p from the params read. Only the params the
// dispatcher uses are made strings (through the connection's string cache,
// so a request like the ones before allocates nothing); the map of them
// all is made only when Config.Params asks for it (the access log).
func (cc *clientConn) parseParams(p *pending) error {
	r, strs := &p.req, cc.b.strs
	var uri, length []byte
	err := fcgi.ScanPairs(cc.b.params, cc.d.cfg.MaxParams, func(name, value []byte) {
		switch string(name) {
		case "REQUEST_METHOD":
			r.Method = strs.get(value)
		case "QUERY_STRING":
			r.Query = strs.get(value)
		case "SCRIPT_FILENAME":
			r.Script = strs.get(value)
		case "PATH_TRANSLATED":
			r.translated = strs.get(value)
		case "REMOTE_USER":
			r.User = strs.get(value)
		case "REMOTE_ADDR":
			r.Remote = strs.get(value)
		case "REQUEST_URI":
			uri = value
		case "SCRIPT_NAME":
			p.name = strs.get(value)
		case "CONTENT_LENGTH":
			length = value
		}
	})
	if err != nil {
		return err
	}
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	r.URI = strs.get(uri)
	if r.URI == "" {
		r.URI = p.name
	}
	r.ContentLength = parseLength(length)
	if cc.d.cfg.Params {
		if r.Params, err = fcgi.ReadPairs(cc.b.params, cc.d.cfg.MaxParams); err != nil {
			return err
		}
	}
	r.Accepted = cc.d.now()
	cc.d.mu.Lock()
	cc.d.stats.Accepted++
	cc.d.mu.Unlock()
	cc.local = nil
	if cc.d.cfg.Local != nil && contains(cc.d.cfg.LocalPaths, p.name) {
		if cc.local = r.Params; cc.local == nil {
			if cc.local, err = fcgi.ReadPairs(cc.b.params, cc.d.cfg.MaxParams); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseLength reads CONTENT_LENGTH as strconv.ParseInt did for the
// dispatcher before (0 when it is not a number, the largest int64 when it
// is too large), without making a string of it.
func parseLength(b []byte) int64 {
	if len(b) == 0 {
		return 0 // ParseInt's error for "" would be an allocation
	}
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s && s != "" {
			return true
		}
	}
	return false
}

// write writes b to the client.
func (cc *clientConn) write(b []byte) error {
	_, err := cc.c.Write(b)
	return err
}
