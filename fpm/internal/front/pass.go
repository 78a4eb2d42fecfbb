package front

// This file passes a request to its pool over FastCGI and streams the
// answer back. The request body is read whole before a worker is asked
// (body_timeout bounds it), and the answer is taken from the worker as
// fast as it comes while the client gets it as fast as it reads: a slow
// client holds buffers and a connection, never a worker.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/worker/proto"
)

// serverSoftware is sent as SERVER_SOFTWARE.
const serverSoftware = "gofpm"

// copyBufs holds the buffers that carry response bodies, so a request does
// not allocate 32 KiB.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

// pairBufs hold the encoded params of requests being passed.
var pairBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// frontExtra are the params the front adds: proto.HeaderFront, in place of
// any the client sent.
var frontExtra = []string{"HTTP_X_GOFPM_FRONT", "1"}

// scriptFilename is SCRIPT_FILENAME: the script under root. "" when
// AppendEnv's default (root + script) is that path already, as it is for a
// clean root and script, so that it is not made per request.
func scriptFilename(root, script string) string {
	if filepath.Separator == '/' && filepath.Clean(root) == root && len(script) > 1 && script[0] == '/' && path.Clean(script) == script {
		return ""
	}
	return filepath.Join(root, filepath.FromSlash(script))
}

// pass is passTo for a request that went through the access-log wrapper.
func (s *Server) pass(w http.ResponseWriter, r *http.Request) {
	s.passTo(w, r, r.Context().Value(frontReqKey{}).(*frontReq))
}

// passTo serves r from the pool behind fr.u, with the script resolve
// found; fr learns whether the worker wrote the access line.
func (s *Server) passTo(w http.ResponseWriter, r *http.Request, fr *frontReq) {
	u, script := fr.u, fr.script
	if r.ContentLength > s.opts.MaxBodyBytes {
		w.Header().Set("Connection", "close")
		http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
		return
	}
	pp := pairBufs.Get().(*[]byte)
	defer pairBufs.Put(pp)
	pairs, err := fcgi.AppendEnv((*pp)[:0], r, fcgi.EnvOptions{
		DocumentRoot:   s.opts.Root,
		ScriptName:     script,
		ScriptFilename: scriptFilename(s.opts.Root, script),
		PathInfo:       fr.pathInfo,
		ServerSoftware: serverSoftware,
		ServerName:     s.opts.ServerName,
		HTTPS:          fr.https,
		Extra:          frontExtra,
	})
	*pp = pairs
	if err != nil {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}

	var end time.Time // request_timeout: the end of the whole exchange
	if d := s.bufs.opts.RequestTimeout; d > 0 {
		end = time.Now().Add(d)
	}
	in, err := s.readBody(w, r, end)
	if err != nil {
		s.bodyError(w, r, u, err)
		return
	}
	if in != nil {
		defer in.Close() // a stdin goroutine still reading gets an error, never freed memory
	}

	// The request's context ends when the client goes away: the client
	// then aborts the FastCGI request and closes the connection, so the
	// worker's handler sees its context cancelled. read_timeout bounds the
	// wait for the header; like nginx's fastcgi_read_timeout it counts from
	// the last byte of the request sent to the worker (a worker may read
	// its body slowly): the client's HeaderTimeout, a deadline on the
	// connection.
	ctx := r.Context()
	if !end.IsZero() {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(ctx, end)
		defer stop()
	}
	var body io.Reader
	var n int64
	if in != nil {
		body, n = in, in.size // in memory and small: sent with the params; else streamed by the client's goroutine
	} // else nothing to stream: no stdin goroutine in the client
	resp, err := u.client.Do(ctx, &fcgi.Request{Pairs: pairs, Body: body, ContentLength: n, HeaderTimeout: s.opts.ReadTimeout})
	if err == nil && ctx.Err() == context.DeadlineExceeded {
		resp.Body.Close() // the header came as request_timeout passed (the worker answered the abort)
		err = context.DeadlineExceeded
	}
	if err != nil {
		s.upstreamError(w, r, u, err)
		return
	}
	defer resp.Body.Close()
	if _, ok := resp.Header[proto.HeaderAccessLogged]; ok {
		delete(resp.Header, proto.HeaderAccessLogged)
		fr.logged = true
	}
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	s.stream(ctx, w, r, u, resp, end)
}

// errBodyTimeout ends a request whose body did not arrive within
// body_timeout.
var errBodyTimeout = errors.New("request body not received within body_timeout")

// readBody reads the whole request body into a spool (memory up to
// body_buffer_size, then a temp file), up to max_body_bytes and within
// body_timeout, before any worker is asked; nil for a request without a
// body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, end time.Time) (*spool, error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	rc := http.NewResponseController(w)
	dl := end
	if d := s.bufs.opts.BodyTimeout; d > 0 && (dl.IsZero() || time.Now().Add(d).Before(dl)) {
		dl = time.Now().Add(d)
	}
	if !dl.IsZero() {
		rc.SetReadDeadline(dl)
	}
	sp, err := s.fillBody(r)
	if err != nil {
		// net/http would read on to discard the rest of the body: not
		// from a client that failed to send it.
		rc.SetReadDeadline(aLongTimeAgo)
		return nil, err
	}
	if !dl.IsZero() {
		rc.SetReadDeadline(time.Time{})
	}
	return sp, nil
}

// aLongTimeAgo is a deadline in the past: reads fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// fillBody reads r's body into a new spool.
func (s *Server) fillBody(r *http.Request) (*spool, error) {
	sp := newSpool(&s.bufs, s.bufs.opts.BodyBufferSize)
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if sp.size+int64(n) > s.opts.MaxBodyBytes {
				sp.Close()
				return nil, &http.MaxBytesError{Limit: s.opts.MaxBodyBytes}
			}
			if _, werr := sp.Write(buf[:n]); werr != nil {
				sp.Close()
				return nil, werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			sp.Close()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = errBodyTimeout
			}
			return nil, err
		}
	}
	if r.ContentLength > 0 && sp.size != r.ContentLength {
		sp.Close()
		return nil, io.ErrUnexpectedEOF
	}
	return sp, nil
}

// bodyError answers a request whose body could not be had: 413 over
// max_body_bytes, 408 after body_timeout, nothing for a client that left,
// 500 when it could not be buffered, else 400.
func (s *Server) bodyError(w http.ResponseWriter, r *http.Request, u *upstream, err error) {
	var mbe *http.MaxBytesError
	w.Header().Set("Connection", "close")
	switch {
	case errors.As(err, &mbe):
		http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
	case err == errBodyTimeout:
		s.log.Info().Str("pool", u.name).Str("uri", logURI(r)).Msgf("client: %v (%s), answered 408", err, s.bufs.opts.BodyTimeout)
		http.Error(w, "Request Timeout", http.StatusRequestTimeout)
	case r.Context().Err() != nil:
		w.WriteHeader(499) // nginx's status for a client that left: the access line sees it
	case errors.As(err, new(tempError)):
		s.log.Error().Err(err).Str("pool", u.name).Str("uri", logURI(r)).Msgf("buffering the request body: %v", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	default:
		http.Error(w, "Bad Request", http.StatusBadRequest)
	}
}

// stream takes the answer from the worker and gives it to the client.
// What has arrived already is read first, without a write to the client:
// when that is the whole answer (a short answer and its END_REQUEST
// usually come in one write), the worker is done and the answer goes out
// in one write, with its Content-Length. Otherwise the answer is pumped
// from the worker into a spool by a goroutine, as fast as the worker
// writes, while this goroutine writes it to the client as fast as the
// client reads, flushing whenever it has caught up with the worker
// (server-sent events go out one by one).
func (s *Server) stream(ctx context.Context, w http.ResponseWriter, r *http.Request, u *upstream, resp *fcgi.Response, end time.Time) {
	pending, _ := resp.Body.(interface{ Buffered() int })
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	n := 0
	var err error
	for n < len(buf) && err == nil {
		var m int
		m, err = resp.Body.Read(buf[n:])
		n += m
		if pending == nil || pending.Buffered() == 0 {
			break
		}
	}
	err = aborted(ctx, err)
	sc := sendClock{w: w, st: s.bufs.opts.SendTimeout, end: end}
	defer sc.reset()
	if err != nil {
		if err != io.EOF {
			s.cut(r, u, err)
		}
		sc.arm()
		w.Write(buf[:n])
		s.logStderr(r, u, resp)
		return
	}
	sp := newSpool(&s.bufs, s.bufs.opts.AnswerBufferSize)
	sp.fileMax = s.bufs.opts.MaxTempFileSize
	defer sp.Close()
	if _, err := sp.Write(buf[:n]); err != nil {
		s.cut(r, u, err)
	}
	go s.pump(ctx, sp, resp, r, u)
	for {
		n, err := sp.Read(buf)
		if n > 0 {
			sc.arm()
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client is gone or too slow; closing the body closes the FastCGI connection
			}
			continue
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			s.cut(r, u, err)
		}
		sc.arm()
		if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return
		}
		select {
		case <-sp.ready:
		case <-r.Context().Done():
			return
		}
	}
}

// sendClock sets the deadline of each write to the client: send_timeout
// from now, but never past the end of the request (request_timeout).
type sendClock struct {
	w   http.ResponseWriter
	st  time.Duration
	end time.Time
}

func (c *sendClock) on() bool { return c.st > 0 || !c.end.IsZero() }

func (c *sendClock) arm() {
	if !c.on() {
		return
	}
	dl := c.end
	if c.st > 0 && (dl.IsZero() || time.Now().Add(c.st).Before(dl)) {
		dl = time.Now().Add(c.st)
	}
	http.NewResponseController(c.w).SetWriteDeadline(dl)
}

// reset takes the deadline off: the connection may serve other requests.
func (c *sendClock) reset() {
	if c.on() {
		http.NewResponseController(c.w).SetWriteDeadline(time.Time{})
	}
}

// pump drains the answer from the worker into sp, then releases the
// worker's connection.
func (s *Server) pump(ctx context.Context, sp *spool, resp *fcgi.Response, r *http.Request, u *upstream) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := sp.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err = aborted(ctx, err); err != nil {
			resp.Body.Close()
			if err == io.EOF {
				s.logStderr(r, u, resp)
			}
			sp.finish(err)
			return
		}
	}
}

// aborted turns the clean end of an answer into the request's end when
// the request was aborted first (request_timeout): a worker that
// answers the abort ends its answer cleanly, but the client must not
// take it for a whole one.
func aborted(ctx context.Context, err error) error {
	if err == io.EOF && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// cut ends an answer that could not be had whole: the client must see a
// broken response, not a complete one.
func (s *Server) cut(r *http.Request, u *upstream, err error) {
	if r.Context().Err() == nil && err != errSpoolClosed {
		s.log.Warn().Err(err).Str("pool", u.name).Str("uri", logURI(r)).Msgf("upstream response cut: %v", err)
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) logStderr(r *http.Request, u *upstream, resp *fcgi.Response) {
	if se := resp.Stderr(); len(se) > 0 {
		s.log.Warn().Str("pool", u.name).Str("uri", logURI(r)).Msgf("FastCGI sent in stderr: %q", strings.TrimSpace(string(se)))
	}
}
