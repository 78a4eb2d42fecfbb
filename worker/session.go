package worker

// This file is the long-lived connection between the worker's connections
// and net/http/fcgi. net/http/fcgi's cost per connection (a 64 KiB record
// buffer, a map, a goroutine and its stack) was a third of a Go worker's
// CPU with nginx's default of a connection per request
// (docs/performance.md). So net/http/fcgi gets one connection per slot for
// the worker's whole life, a session, with FCGI_KEEP_CONN set on every
// BEGIN_REQUEST; the session carries the records of one web server
// connection (a filter conn) at a time over it, and closes that connection
// itself after the END_REQUEST of a request that did not ask to keep it, as
// net/http/fcgi would have.
//
// The session renumbers requests: each BEGIN_REQUEST gets an id of the
// session's own, so that a handler still writing after its request ended
// (a handler that ignored its cancelled context, or wrote after returning)
// never reaches the next connection, which reuses the web server's id
// (nginx always sends 1). Records for an id net/http/fcgi does not hold
// are dropped, as net/http/fcgi would ignore them.
//
// What net/http/fcgi does with a request, which the session follows
// (net/http/fcgi/child.go): it holds a request in its table from its
// BEGIN_REQUEST to its first empty STDIN record or its ABORT_REQUEST; the
// handler starts at the first STDIN record and writes one END_REQUEST when
// it returns; an ABORT_REQUEST for a request in the table writes another at
// once. A second BEGIN_REQUEST for an id in its table, or a malformed
// one, would end net/http/fcgi's connection: the session ends the web
// server's connection instead and keeps its own.
//
// When the web server's connection ends (it closed, or a protocol error),
// the session cancels its requests' contexts, closes the socket, hands
// net/http/fcgi an ABORT_REQUEST for each request still in its table, and
// takes no other connection until every handler of this one has written
// its END_REQUEST: the slot stays taken, and the worker busy, while an
// aborted handler runs, as a php-fpm worker stays busy with a script whose
// client went away.

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// flagKeepConn is FCGI_KEEP_CONN in the flags byte of a BEGIN_REQUEST.
const flagKeepConn = 1

// endRecordSize is the size of an END_REQUEST record.
const endRecordSize = fcgi.HeaderSize + 8

// sessions is the listener net/http/fcgi serves: it hands out one session
// per slot, then blocks until the worker stops or a session's accept fails.
type sessions struct {
	s      *server
	ll     limitListener
	once   sync.Once
	failed chan struct{}
	err    error // why, once failed is closed
}

func newSessions(s *server) *sessions {
	return &sessions{s: s, ll: limitListener{s}, failed: make(chan struct{})}
}

func (l *sessions) Accept() (net.Conn, error) {
	l.s.mu.Lock()
	more := l.s.sessions < l.s.concurrency
	if more {
		l.s.sessions++
	}
	l.s.mu.Unlock()
	if more {
		return &session{l: l, done: make(chan struct{}, 1)}, nil
	}
	select {
	case <-l.failed:
		return nil, l.err
	case <-l.s.stopping:
		return nil, net.ErrClosed
	}
}

// fail ends Accept with err, the listener's own failure.
func (l *sessions) fail(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.failed)
	})
}

func (l *sessions) Close() error   { return l.ll.Close() }
func (l *sessions) Addr() net.Addr { return l.ll.Addr() }

// session is one slot's connection as net/http/fcgi sees it. Read is
// called by net/http/fcgi's reading goroutine only; Write by it and by the
// handlers.
type session struct {
	l *sessions

	// Read side.
	out     []byte   // bytes to hand out before the next records
	closing *conn    // a connection whose read side ended, closed once its requests are finished
	inject  []byte   // the ABORT_REQUEST records endConn hands out
	reply   []byte   // END_REQUEST records take writes to the web server once mu is released
	toClose net.Conn // a socket take closes once mu is released
	fc      conn     // the connection, reused for each (initConn)

	mu     sync.Mutex
	cur    *conn         // the connection being read; nil between connections (set by the reading goroutine only)
	reqs   []sessionReq  // the requests net/http/fcgi has not finished with
	lastID uint16        // the last id given out
	done   chan struct{} // signalled when a request is finished
	ended  *conn         // the connection whose one-shot request finished: it is over
}

// sessionReq is one request as the session knows it.
type sessionReq struct {
	fc       *conn  // its web server connection
	real, id uint16 // the web server's id, the id net/http/fcgi sees
	inTable  bool   // net/http/fcgi holds it: BEGIN passed, no empty STDIN or ABORT yet
	started  bool   // its first STDIN passed: the handler runs
	ends     int    // END_REQUEST records net/http/fcgi will still write for it
	current  bool   // the web server's records for real go to it
	answered bool   // its END_REQUEST went out: what it writes now is dropped
	oneShot  bool   // the web server did not ask FCGI_KEEP_CONN
	dead     bool   // its connection ended: only its last END_REQUEST goes out, for the accounting
}

// finished reports whether net/http/fcgi is done with r.
func (r *sessionReq) finished() bool { return !r.inTable && r.ends == 0 }

// Read hands net/http/fcgi the records of the current connection.
func (ss *session) Read(p []byte) (int, error) {
	for len(ss.out) == 0 {
		if err := ss.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, ss.out)
	ss.out = ss.out[n:]
	return n, nil
}

// fill sets ss.out to the next records (possibly none), taking the next
// connection when there is none.
func (ss *session) fill() error {
	fc := ss.cur // only this goroutine sets it: no lock to read it
	if fc == nil {
		if ss.closing != nil {
			ss.waitFinished(ss.closing)
			ss.closing.Close()
			ss.closing = nil
		}
		c, err := ss.l.ll.accept(&ss.fc)
		if err != nil {
			select {
			case <-ss.l.s.stopping:
			default:
				ss.l.fail(err)
			}
			return err
		}
		fc = c
		ss.mu.Lock()
		ss.cur = fc
		ss.mu.Unlock()
	}
	if ss.answered(fc) { // over: its socket is closed, nothing to read
		fc.endRead(net.ErrClosed)
		ss.out = ss.endConn(fc)
		return nil
	}
	recs, err := fc.records()
	if err == nil {
		recs, err = ss.take(fc, recs)
		for r := ss.reply; len(r) > 0; r = r[endRecordSize:] {
			fc.Write(r[:endRecordSize]) // one record per Write, as the filter expects
		}
		ss.reply = ss.reply[:0]
		if ss.toClose != nil {
			ss.toClose.Close()
			ss.toClose = nil
		}
	}
	if err != nil {
		ss.out = ss.endConn(fc)
		return nil
	}
	ss.out = recs
	return nil
}

// answered prepares the next read of fc. It reports true when fc is over:
// its one-shot request finished and Write closed its socket, so there is
// nothing to read. While fc's requests are all one-shot ones with their
// body ended, only an ABORT_REQUEST or the web server's close can come
// from it, not before the handler answers: the read is then told not to
// yield and try again when it finds nothing (rawConn.noYield), and parks
// in the poller at once. Before, each such request cost a futile second
// read (docs/performance.md).
func (ss *session) answered(fc *conn) bool {
	ss.mu.Lock()
	over := ss.ended == fc
	if over {
		ss.ended = nil
	}
	quiet := !over && ss.answering(fc)
	ss.mu.Unlock()
	if quiet && !fc.buffered() {
		noYield(fc.Conn)
	}
	return over
}

// answering reports whether fc has requests and all of them are one-shot
// requests whose body has ended and whose handler runs (under mu).
func (ss *session) answering(fc *conn) bool {
	n := 0
	for i := range ss.reqs {
		r := &ss.reqs[i]
		if r.fc != fc {
			continue
		}
		if !r.oneShot || r.inTable || r.dead {
			return false
		}
		n++
	}
	return n > 0
}

// take renumbers the records in recs (whole records, from fc), follows what
// net/http/fcgi will do with them, and returns those it gets, compacted in
// place. An error ends the connection.
func (ss *session) take(fc *conn, recs []byte) ([]byte, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	kept := 0
	for off := 0; off < len(recs); {
		h, err := fcgi.ParseHeader(recs[off:])
		if err != nil {
			return nil, err // the filter hands out whole records: cannot happen
		}
		size := fcgi.HeaderSize + h.ContentLength + h.PaddingLength
		rec := recs[off : off+size]
		off += size
		pass, err := ss.follow(fc, h, rec)
		if err != nil {
			return nil, err
		}
		if pass {
			kept += copy(recs[kept:], rec)
		}
	}
	return recs[:kept], nil
}

// follow decides for one record (under mu) and renumbers it in place.
func (ss *session) follow(fc *conn, h fcgi.Header, rec []byte) (bool, error) {
	i := ss.find(fc, h.RequestID)
	if h.Type == fcgi.TypeBeginRequest {
		content := rec[fcgi.HeaderSize : fcgi.HeaderSize+h.ContentLength]
		if len(content) != 8 || (i >= 0 && ss.reqs[i].inTable) {
			return false, fcgi.ErrProtocol // net/http/fcgi would end its connection
		}
		if i >= 0 { // the id is reused while its handler still writes: that one is muted
			ss.reqs[i].current, ss.reqs[i].answered = false, true
		}
		if role := fcgi.Role(binary.BigEndian.Uint16(content)); role != fcgi.RoleResponder {
			// net/http/fcgi would answer at once and forget it.
			ss.reply = fcgi.AppendEndRequest(ss.reply, h.RequestID, 0, fcgi.StatusUnknownRole)
			return false, nil
		}
		r := sessionReq{fc: fc, real: h.RequestID, id: ss.newID(), inTable: true, current: true,
			oneShot: content[2]&flagKeepConn == 0}
		content[2] |= flagKeepConn
		ss.reqs = append(ss.reqs, r)
		binary.BigEndian.PutUint16(rec[2:4], r.id)
		return true, nil
	}
	if i >= 0 && h.Type == fcgi.TypeAbortRequest && !ss.reqs[i].inTable && !ss.reqs[i].answered {
		// net/http/fcgi ignores an abort once the body has ended, and its
		// handler answers when it returns; the web server is answered
		// now (the handler's context is cancelled) and what the handler
		// still writes is dropped.
		ss.reqs[i].answered = true
		ss.reply = fcgi.AppendEndRequest(ss.reply, h.RequestID, 0, fcgi.StatusRequestComplete)
		return false, nil
	}
	if i < 0 || !ss.reqs[i].inTable {
		return false, nil // net/http/fcgi ignores records for ids it does not hold
	}
	r := &ss.reqs[i]
	switch h.Type {
	case fcgi.TypeStdin:
		if !r.started {
			r.started = true
			r.ends++
		}
		if h.ContentLength == 0 {
			r.inTable = false
		}
	case fcgi.TypeAbortRequest:
		r.inTable = false
		r.ends++
	}
	binary.BigEndian.PutUint16(rec[2:4], r.id)
	if r.finished() { // its END_REQUEST went out before its STDIN ended
		ss.toClose = ss.finish(i)
	}
	return true, nil
}

// find returns the index of the current request of fc with the web
// server's id real, or -1 (under mu).
func (ss *session) find(fc *conn, real uint16) int {
	for i := range ss.reqs {
		if r := &ss.reqs[i]; r.fc == fc && r.real == real && r.current {
			return i
		}
	}
	return -1
}

// newID returns an id no request of the session has (under mu).
func (ss *session) newID() uint16 {
	for {
		ss.lastID++
		if ss.lastID == 0 {
			continue
		}
		free := true
		for i := range ss.reqs {
			if ss.reqs[i].id == ss.lastID {
				free = false
				break
			}
		}
		if free {
			return ss.lastID
		}
	}
}

// finish forgets request i, which net/http/fcgi is done with (under mu).
// It returns the socket to close when the request did not ask
// FCGI_KEEP_CONN: closed by the caller once mu is released, it ends the
// connection's read side, and the reading goroutine does the rest. The
// socket, not the conn: the conn is reused for the next connection as soon
// as the reading goroutine has closed it.
func (ss *session) finish(i int) net.Conn {
	r := ss.reqs[i]
	last := len(ss.reqs) - 1
	ss.reqs[i] = ss.reqs[last]
	ss.reqs[last] = sessionReq{}
	ss.reqs = ss.reqs[:last]
	select {
	case ss.done <- struct{}{}:
	default:
	}
	if r.oneShot && !r.dead {
		ss.ended = r.fc
		return r.fc.Conn
	}
	return nil
}

// has reports whether a request of fc is left (under mu).
func (ss *session) has(fc *conn) bool {
	for i := range ss.reqs {
		if ss.reqs[i].fc == fc {
			return true
		}
	}
	return false
}

// endConn ends fc's read side: its requests' contexts are cancelled, its
// socket closed, and net/http/fcgi gets an ABORT_REQUEST for each request
// it still holds. fc itself is closed by the next fill, once its requests
// are finished.
func (ss *session) endConn(fc *conn) []byte {
	fc.Conn.Close()
	fc.onClose()
	out := ss.inject[:0]
	ss.mu.Lock()
	if ss.cur == fc {
		ss.cur = nil
	}
	if ss.ended == fc { // the conn is reused for the next connection
		ss.ended = nil
	}
	for i := range ss.reqs {
		r := &ss.reqs[i]
		if r.fc != fc {
			continue
		}
		r.dead, r.current = true, false
		if r.inTable {
			r.inTable = false
			r.ends++
			out = appendAbort(out, r.id)
		}
	}
	ss.mu.Unlock()
	ss.inject = out
	ss.closing = fc
	return out
}

// appendAbort appends an ABORT_REQUEST record for id.
func appendAbort(dst []byte, id uint16) []byte {
	return append(dst, 1, byte(fcgi.TypeAbortRequest), byte(id>>8), byte(id), 0, 0, 0, 0)
}

// waitFinished waits until net/http/fcgi is done with every request of fc.
func (ss *session) waitFinished(fc *conn) {
	for {
		ss.mu.Lock()
		left := ss.has(fc)
		ss.mu.Unlock()
		if !left {
			return
		}
		<-ss.done
	}
}

// Write passes what net/http/fcgi writes, one record per call, to the
// connection of its request, renumbered back to the web server's id.
func (ss *session) Write(p []byte) (int, error) {
	h, err := fcgi.ParseHeader(p)
	if err != nil {
		return len(p), nil // net/http/fcgi writes whole records: cannot happen
	}
	ss.mu.Lock()
	if h.RequestID == 0 { // a management record, while its record is handled
		fc := ss.cur
		ss.mu.Unlock()
		if fc == nil {
			return len(p), nil
		}
		fc.Write(p)
		return len(p), nil
	}
	i := ss.byID(h.RequestID)
	if i < 0 {
		ss.mu.Unlock()
		return len(p), nil // a handler writing after its request was finished
	}
	r := &ss.reqs[i]
	end := h.Type == fcgi.TypeEndRequest
	send := !r.answered && (!end || !r.dead || r.ends == 1)
	if end && send {
		r.answered = true
	}
	fc := r.fc
	id := r.real
	ss.mu.Unlock()
	if send {
		binary.BigEndian.PutUint16(p[2:4], id)
		_, err = fc.Write(p)
	}
	if end {
		var sock net.Conn
		ss.mu.Lock()
		if i := ss.byID(h.RequestID); i >= 0 {
			if r := &ss.reqs[i]; r.ends > 0 {
				r.ends--
			}
			if ss.reqs[i].finished() {
				sock = ss.finish(i)
			}
		}
		ss.mu.Unlock()
		if sock != nil {
			sock.Close()
		}
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// byID returns the index of the request net/http/fcgi knows as id, or -1
// (under mu).
func (ss *session) byID(id uint16) int {
	for i := range ss.reqs {
		if ss.reqs[i].id == id {
			return i
		}
	}
	return -1
}

// Close is called when net/http/fcgi ends the session: at a graceful stop,
// when no connection is left to take.
func (ss *session) Close() error { return nil }

func (ss *session) LocalAddr() net.Addr                { return ss.l.Addr() }
func (ss *session) RemoteAddr() net.Addr               { return ss.l.Addr() }
func (ss *session) SetDeadline(t time.Time) error      { return nil }
func (ss *session) SetReadDeadline(t time.Time) error  { return nil }
func (ss *session) SetWriteDeadline(t time.Time) error { return nil }

var _ net.Conn = (*session)(nil)
