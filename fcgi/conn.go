package fcgi

// This file is one client connection: its buffers, the per-request state,
// the write side (params, stdin) and aborting.

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// abortWriteTimeout bounds the write of FCGI_ABORT_REQUEST when a request's
// context is done; the connection is closed right after anyway.
const abortWriteTimeout = 100 * time.Millisecond

// aLongTimeAgo is a deadline in the past, to wake a blocked Read at once.
var aLongTimeAgo = time.Unix(1, 0)

// Reader pools: a connection's readers go back to the pool when it is
// closed and no goroutine can still be reading through them, to avoid two
// allocations of a few KiB per dial.
var (
	recReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}
	hdrReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
)

// stdinBufSize holds a full STDIN record and the empty record after it.
const stdinBufSize = MaxRecordSize + HeaderSize

// stdinPool holds the buffers of writeStdin, to avoid allocating 64 KiB per
// streamed body. Their contents do not matter.
var stdinPool = sync.Pool{New: func() any { return new([stdinBufSize]byte) }}

// conn is a client connection. One request at a time runs on it, with id
// reqID. Only the goroutine reading the response touches the read-side
// fields; the stdin goroutine and abort share the write side under wmu.
type conn struct {
	client  *Client
	nc      net.Conn
	br      *bufio.Reader // records, from nc
	hr      *bufio.Reader // the STDOUT stream, from the conn itself (see Read)
	keep    bool          // FCGI_KEEP_CONN is sent
	abortFn func()        // c.abort, bound once
	live    liveness      // for the check before reuse

	// Per request.
	ctx         context.Context
	stop        func() bool // stops the context.AfterFunc; nil if ctx can't be done
	reused      bool        // came from the idle pool
	hadDeadline bool        // a deadline is set on nc
	deadline    time.Time   // the context's, if any
	hdrTimeout  time.Duration

	// Read side: only the goroutine reading the response.
	left      int    // STDOUT content bytes left in the current record
	pad       int    // padding left to skip before the next header
	appStatus uint32 // from END_REQUEST
	stderr    []byte // STDERR content, at most maxStderr bytes
	got       bool   // a response record header arrived
	rerr      error  // sticky: io.EOF after END_REQUEST, or the failure

	// Write side: the stdin goroutine and abort, under wmu.
	wmu   sync.Mutex    // serializes writes to nc
	wfail bool          // a write failed or ABORT was sent: no more writes, no reuse
	wdone chan struct{} // closed when the stdin goroutine ends; nil without one
	werr  error         // the stdin goroutine's request-body error, set before wdone closes

	// The header timeout: each write pushes it back until the header came.
	// dlmu is never held across I/O: the header may come while the stdin
	// goroutine is blocked in a write, holding wmu.
	dlmu    sync.Mutex
	hdrWait bool

	aborted   atomic.Bool // the context's AfterFunc ran
	closeOnce sync.Once   // for releaseBuffers
}

func newConn(c *Client, nc net.Conn, keep bool) *conn {
	cn := &conn{client: c, nc: nc, keep: keep}
	cn.br = recReaderPool.Get().(*bufio.Reader)
	cn.br.Reset(nc)
	cn.hr = hdrReaderPool.Get().(*bufio.Reader)
	cn.hr.Reset(cn)
	cn.abortFn = cn.abort
	if keep {
		cn.live.init(nc) // only a kept connection is checked before reuse
	}
	return cn
}

// begin resets the per-request state and arms the context, and the
// header timeout ht when set.
func (c *conn) begin(ctx context.Context, ht time.Duration) {
	c.ctx = ctx
	c.left, c.pad = 0, 0
	c.appStatus = 0
	c.stderr = nil // the previous response may still hold the old slice
	c.got = false
	c.rerr = nil
	c.wdone, c.werr, c.wfail = nil, nil, false
	c.aborted.Store(false)
	c.hr.Reset(c)
	c.deadline, _ = ctx.Deadline()
	c.hdrTimeout, c.hdrWait = ht, ht > 0
	if !c.deadline.IsZero() {
		c.nc.SetDeadline(c.deadline)
		c.hadDeadline = true
	} else if c.hadDeadline {
		c.nc.SetDeadline(time.Time{})
		c.hadDeadline = false
	}
	if ht > 0 {
		c.hadDeadline = true // the header timeout's (the first write starts it)
	}
	c.stop = nil
	if ctx.Done() != nil {
		c.stop = context.AfterFunc(ctx, c.abortFn)
	}
}

// write sends b in one call under the write lock.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wfail {
		return net.ErrClosed
	}
	start := c.pushHeaderDeadline(true, time.Time{})
	_, err := c.nc.Write(b)
	if err != nil {
		c.wfail = true
	}
	c.pushHeaderDeadline(false, start)
	return err
}

// pushHeaderDeadline starts the header timeout again from now, while it
// runs, never past the context's deadline: before a write (write set) for
// the write too, which an application that reads nothing blocks; after it
// for the read, when the write took long enough (since start) for that to
// matter. It returns now, or the zero time when the timeout does not run.
func (c *conn) pushHeaderDeadline(write bool, start time.Time) time.Time {
	if c.hdrTimeout == 0 {
		return time.Time{}
	}
	c.dlmu.Lock()
	defer c.dlmu.Unlock()
	if !c.hdrWait {
		return time.Time{}
	}
	now := time.Now()
	if !write && (start.IsZero() || now.Sub(start) < time.Millisecond) {
		return now // the deadline set before the write is as good
	}
	dl := now.Add(c.hdrTimeout)
	if !c.deadline.IsZero() && c.deadline.Before(dl) {
		dl = c.deadline
	}
	if write {
		c.nc.SetDeadline(dl)
	} else {
		c.nc.SetReadDeadline(dl)
	}
	return now
}

// headerCame ends the header timeout: the body is read under the
// context's deadline alone.
func (c *conn) headerCame() {
	if c.hdrTimeout == 0 {
		return
	}
	c.dlmu.Lock()
	defer c.dlmu.Unlock()
	c.hdrWait = false
	if !c.aborted.Load() {
		c.nc.SetDeadline(c.deadline) // a body still streaming to the application is not cut either
	}
}

// writeStdin streams n > 0 bytes of body as STDIN records, sending
// each chunk as soon as body yields it, and ends the stream. It runs on its
// own goroutine and closes c.wdone when done. A body error is recorded in
// c.werr and closes the connection, so that the reader stops too; a write
// error is left to the reader, which sees the same connection.
func (c *conn) writeStdin(body io.Reader, n int64) {
	bp := stdinPool.Get().(*[stdinBufSize]byte)
	buf := bp[:]
	var berr error
	for n > 0 {
		chunk := int(min(n, MaxContentSize))
		m, err := body.Read(buf[HeaderSize : HeaderSize+chunk])
		if m > 0 {
			n -= int64(m)
			pad := padding(m)
			putHeader(buf, TypeStdin, reqID, m, pad)
			end := HeaderSize + m
			end += copy(buf[end:end+pad], zeros[:pad])
			if n == 0 {
				putHeader(buf[end:], TypeStdin, reqID, 0, 0)
				end += HeaderSize
			}
			if c.write(buf[:end]) != nil {
				break
			}
		}
		if n > 0 && err != nil {
			berr = bodyErr(err)
			break
		}
	}
	stdinPool.Put(bp)
	if berr != nil {
		c.werr = berr
		close(c.wdone)
		c.nc.Close()
		return
	}
	close(c.wdone)
}

// writerErr returns the stdin goroutine's body error, if it has ended with one.
func (c *conn) writerErr() error {
	select {
	case <-c.wdone:
		return c.werr
	default:
		return nil
	}
}

// writerClean reports whether everything was written: no stdin goroutine
// is still running, and no write failed.
func (c *conn) writerClean() bool {
	if c.wdone != nil {
		select {
		case <-c.wdone:
		default:
			return false
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return !c.wfail && c.werr == nil
}

// abort runs when the request's context is done: it wakes a blocked reader,
// sends FCGI_ABORT_REQUEST unless a write is under way or failed, and closes
// the connection.
func (c *conn) abort() {
	c.aborted.Store(true)
	c.nc.SetReadDeadline(aLongTimeAgo)
	// TryLock: if the stdin goroutine is blocked in Write, the record stream
	// is mid-record and an ABORT cannot be slipped in; just close.
	if c.wmu.TryLock() {
		if !c.wfail {
			c.nc.SetWriteDeadline(time.Now().Add(abortWriteTimeout))
			b := appendHeader(make([]byte, 0, HeaderSize), TypeAbortRequest, reqID, 0, 0)
			c.nc.Write(b)
			c.wfail = true
		}
		c.wmu.Unlock()
	}
	c.nc.Close()
}

// release disarms the context and reports whether abort never ran.
func (c *conn) release() bool {
	ok := c.stop == nil || c.stop()
	c.stop = nil
	return ok && !c.aborted.Load()
}

// abandon ends a request that failed before a Response existed: no other
// goroutine reads through the buffers, so they go back to their pools.
func (c *conn) abandon() {
	c.release()
	c.nc.Close()
	c.releaseBuffers()
}

// finish ends the request when the response body is closed. eof reports
// that the body was read to END_REQUEST: only then can the connection be
// reused, or its buffers be pooled (no Read can be running).
func (c *conn) finish(eof bool) {
	clean := c.release() && eof && c.rerr == io.EOF && c.writerClean() && c.br.Buffered() == 0
	if clean && c.keep {
		c.client.putIdle(c)
		return
	}
	c.nc.Close()
	if eof {
		c.releaseBuffers()
	}
}

// releaseBuffers returns the readers to their pools, once.
func (c *conn) releaseBuffers() {
	c.closeOnce.Do(func() {
		c.br.Reset(nil)
		recReaderPool.Put(c.br)
		c.hr.Reset(nil)
		hdrReaderPool.Put(c.hr)
		c.br, c.hr = nil, nil
	})
}
