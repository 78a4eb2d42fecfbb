package fcgi

// This file is the stream reader: the records of one response turned into
// the STDOUT byte stream, with STDERR collected on the side and END_REQUEST
// turned into io.EOF.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// maxStderr bounds the STDERR bytes kept per response; the rest is dropped.
const maxStderr = 64 << 10

var _ io.Reader = (*conn)(nil)

// Read reads the STDOUT stream of the current request. STDOUT content is
// read straight into p, one record's worth at most, so bytes are delivered
// as soon as they arrive. It returns io.EOF only after END_REQUEST with
// FCGI_REQUEST_COMPLETE; any other end of the connection is an error
// wrapping ErrIncomplete, or the context's error.
func (c *conn) Read(p []byte) (int, error) {
	for {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if c.left > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			n, err := c.br.Read(p[:min(len(p), c.left)])
			c.left -= n
			if err != nil {
				c.fail(err)
			}
			if n > 0 {
				return n, nil
			}
			continue // returns c.rerr, or reads again
		}
		if err := c.next(); err != nil {
			return 0, err
		}
	}
}

// next reads record headers until one starts STDOUT content or ends the
// request. STDERR and management records are consumed on the way.
func (c *conn) next() error {
	if c.pad > 0 {
		if _, err := c.br.Discard(c.pad); err != nil {
			return c.fail(err)
		}
		c.pad = 0
	}
	b, err := c.br.Peek(HeaderSize)
	if err != nil {
		return c.fail(err)
	}
	h, err := ParseHeader(b)
	if err != nil {
		return c.fail(err)
	}
	c.br.Discard(HeaderSize) // cannot fail after Peek
	c.got = true
	if h.RequestID != reqID {
		if h.RequestID == 0 {
			// A management record we did not ask for: skip it.
			return c.skip(h.ContentLength + h.PaddingLength)
		}
		return c.fail(fmt.Errorf("%w: %v record for request %d, want %d", ErrProtocol, h.Type, h.RequestID, reqID))
	}
	switch h.Type {
	case TypeStdout:
		// An empty STDOUT record ends the stream; END_REQUEST follows.
		c.left, c.pad = h.ContentLength, h.PaddingLength
		return nil
	case TypeStderr:
		if err := c.readStderr(h.ContentLength); err != nil {
			return err
		}
		c.pad = h.PaddingLength
		return nil
	case TypeEndRequest:
		if h.ContentLength < 8 {
			return c.fail(fmt.Errorf("%w: END_REQUEST content of %d bytes, want 8", ErrProtocol, h.ContentLength))
		}
		b, err := c.br.Peek(8)
		if err != nil {
			return c.fail(err)
		}
		app, status, _ := ParseEndRequest(b)
		// Consume the whole record now: nothing of it may be left for the
		// next request on a kept connection.
		if err := c.skip(h.ContentLength + h.PaddingLength); err != nil {
			return err
		}
		c.appStatus = app
		switch status {
		case StatusRequestComplete:
			c.rerr = io.EOF
		case StatusCantMultiplex:
			c.rerr = ErrCantMultiplex
		case StatusOverloaded:
			c.rerr = ErrOverloaded
		case StatusUnknownRole:
			c.rerr = ErrUnknownRole
		default:
			c.rerr = fmt.Errorf("%w: END_REQUEST protocol status %d", ErrProtocol, status)
		}
		return c.rerr
	default:
		return c.fail(fmt.Errorf("%w: unexpected %v record from the application", ErrProtocol, h.Type))
	}
}

// readStderr collects n bytes of STDERR content, keeping at most maxStderr.
func (c *conn) readStderr(n int) error {
	for n > 0 {
		k := min(n, c.br.Size())
		b, err := c.br.Peek(k)
		if err != nil {
			return c.fail(err)
		}
		if room := maxStderr - len(c.stderr); room > 0 {
			c.stderr = append(c.stderr, b[:min(room, k)]...)
		}
		c.br.Discard(k)
		n -= k
	}
	return nil
}

// skip discards n bytes.
func (c *conn) skip(n int) error {
	if _, err := c.br.Discard(n); err != nil {
		return c.fail(err)
	}
	return nil
}

// fail records why the response cannot go on and returns it: the
// context's error if it is done, the request body's error if reading it
// failed, a protocol error as it is, and anything else (EOF, reset, ...) as
// ErrIncomplete. It never yields a bare io.EOF.
func (c *conn) fail(err error) error {
	if c.rerr != nil {
		return c.rerr
	}
	switch {
	case contextErr(c.ctx, err) != nil:
		err = contextErr(c.ctx, err)
	case c.hdrTimeout > 0 && !c.aborted.Load() && errors.Is(err, os.ErrDeadlineExceeded):
		err = ErrHeaderTimeout // the context's deadline is contextErr's
	case c.writerErr() != nil:
		err = c.writerErr()
	case errors.Is(err, ErrProtocol):
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		err = fmt.Errorf("%w: %w", ErrIncomplete, io.ErrUnexpectedEOF)
	default:
		err = fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	c.rerr = err
	return err
}

// contextErr returns ctx's error if ctx is done, or if err is the
// connection's deadline, copied from ctx, which can fire before the
// context's own timer. Otherwise it returns nil.
func contextErr(ctx context.Context, err error) error {
	if ctx == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
