package worker

// This file is the filter's write side. net/http/fcgi writes each record
// with one Write, so the header at the start of each Write tells what it
// is: the end of a request's answer (its last STDOUT records and its
// END_REQUEST) goes out in one write, and FCGI_END_REQUEST ends the
// request for the busy count, the scoreboard and the abort tokens.

import (
	"bytes"
	"sync"

	"github.com/gofpm/gofpm/fcgi"
)

// handlerDone is called when the handler of request id (token tok) has
// returned: what net/http/fcgi writes for it from now on is its closing
// flush, the end of its stdout and its END_REQUEST. A request that ended
// before its handler returned (an abort answered at once) has nothing more
// to send; its id may already carry the next request, whose stream must
// not be held.
func (c *conn) handlerDone(id uint16, tok uint64) {
	c.wmu.Lock()
	if c.live(id, tok) {
		c.holding, c.holdID = true, id
	}
	c.wmu.Unlock()
}

// maxPending bounds the bytes held back for one answer: net/http/fcgi's
// buffer flushes at most 64 KiB at a time.
const maxPending = 128 << 10

// pendingPool holds the buffers of held answers: without FCGI_KEEP_CONN
// every request has a connection of its own.
var pendingPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (c *conn) Write(p []byte) (int, error) {
	if q, ok := c.stripDate(p); ok { // a status or ping page (pages.go)
		if _, err := c.writeRecord(q); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.writeRecord(p)
}

// writeRecord writes what net/http/fcgi wrote in one Write.
func (c *conn) writeRecord(p []byte) (int, error) {
	h, err := fcgi.ParseHeader(p)
	rec := err == nil
	end := rec && h.Type == fcgi.TypeEndRequest
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.holding {
		switch {
		case rec && h.Type == fcgi.TypeStdout && h.RequestID == c.holdID && len(c.pending)+len(p) <= maxPending:
			c.hold(p)
			return len(p), nil
		case end && h.RequestID == c.holdID:
			c.holding = false // what is held goes out with it, below
		default: // anything else: what is held goes first
			c.holding = false
			if err := c.writeHeld(); err != nil {
				return 0, err
			}
		}
	}
	n := len(p)
	if len(c.pending) > 0 { // held: it goes out with this write, or just before a large one
		if len(p) > joinMax {
			if err := c.writeHeld(); err != nil {
				return 0, err
			}
		} else {
			c.pending = append(c.pending, p...)
			p, c.pending = c.pending, c.pending[:0] // written below, under wmu
		}
	} else if rec && h.Type == fcgi.TypeStdout && h.ContentLength > 0 && c.firstStdout(h.RequestID) && isCGIHeader(p[fcgi.HeaderSize:fcgi.HeaderSize+h.ContentLength]) {
		c.hold(p) // the header block: only the answer's first record is one
		return n, nil
	}
	if end {
		_, err = c.writeEnd(p, h.RequestID)
	} else {
		_, err = c.Conn.Write(p)
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// flushHeld writes a header block held for a running handler that
// flushed (not an answer's end held after the handler returned: that goes
// with its END_REQUEST).
func (c *conn) flushHeld() {
	c.wmu.Lock()
	if !c.holding {
		c.writeHeld()
	}
	c.wmu.Unlock()
}

// writeHeld writes what is held, if anything (under wmu).
func (c *conn) writeHeld() error {
	if len(c.pending) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.pending)
	c.pending = c.pending[:0]
	return err
}

// joinMax is the largest write a held header is copied in front of; a
// larger one follows the header in a write of its own.
const joinMax = 16 << 10

// hold keeps p, net/http/fcgi's flush of a response's header block, for
// the request's next write (under wmu). net/http/fcgi flushes the header
// on the handler's first Write, before the body, so every answer took a
// write for its header and another for the rest, and the web server woke
// up for each (docs/performance.md). The header now goes out with the
// first body bytes flushed (by the handler's Flush, a full buffer, or its
// return), as net/http's own server sends it. What is held is written at
// the next write, whatever it is, or when the connection closes.
func (c *conn) hold(p []byte) {
	if c.pendBuf == nil {
		c.pendBuf = pendingPool.Get().(*[]byte)
		c.pending = (*c.pendBuf)[:0]
	}
	c.pending = append(c.pending, p...) // net/http/fcgi reuses p
}

// isCGIHeader reports whether content is a whole CGI header block as
// net/http/fcgi writes it: "Status: " first, the empty line last.
func isCGIHeader(content []byte) bool {
	return bytes.HasPrefix(content, []byte("Status: ")) && bytes.HasSuffix(content, []byte("\r\n\r\n"))
}

// writeEnd writes p, which ends with the END_REQUEST record of request id,
// and marks the request over (under wmu).
func (c *conn) writeEnd(p []byte, id uint16) (int, error) {
	c.onEnd(id)
	// The request is over before the record goes out: on a kept
	// connection the web server may send the next request as soon as it
	// has the record, and that one must find the conn not busy.
	c.s.mu.Lock()
	if c.busy {
		c.busy, c.ending = false, true
		c.s.sb.RequestEnd()
	}
	c.s.mu.Unlock()
	n, err := c.Conn.Write(p)
	// Counted busy until the record is written, so a graceful stop does
	// not exit before the answer is out.
	c.s.mu.Lock()
	if c.ending {
		c.ending = false
		c.s.busy--
	}
	c.s.mu.Unlock()
	c.s.signalIdle()
	return n, err
}

func (c *conn) Close() error {
	c.wmu.Lock()
	c.writeHeld() // held bytes whose END_REQUEST never came
	c.holding = false
	if c.pendBuf != nil && cap(c.pending) <= maxPending {
		*c.pendBuf = c.pending[:0]
		pendingPool.Put(c.pendBuf)
	}
	c.pending, c.pendBuf = nil, nil
	c.wmu.Unlock()
	err := c.Conn.Close()
	c.onClose()
	c.s.mu.Lock()
	if !c.closed {
		c.closed = true
		c.s.conns--
		if c.busy {
			c.busy = false
			c.s.busy--
			c.s.sb.RequestEnd()
		}
		if c.ending {
			c.ending = false
			c.s.busy--
		}
		<-c.s.slots
	}
	c.s.mu.Unlock()
	c.s.signalIdle()
	return err
}
