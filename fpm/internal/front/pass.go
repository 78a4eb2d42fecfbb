package front

// This file passes a request to its pool over FastCGI and streams the
// answer back, with read_timeout pushed back while the body uploads.

import (
	"context"
	"errors"
	"io"
	"net/http"
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

// errReadTimeout ends a request whose worker sent no header within
// read_timeout.
var errReadTimeout = errors.New("no response header within read_timeout")

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
	if r.ContentLength < 0 { // chunked: the client buffers it, up to MaxBufferedBody
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	}
	params, err := fcgi.EnvFromRequest(r, fcgi.EnvOptions{
		DocumentRoot:   s.opts.Root,
		ScriptName:     script,
		ScriptFilename: filepath.Join(s.opts.Root, filepath.FromSlash(script)),
		PathInfo:       fr.pathInfo,
		ServerSoftware: serverSoftware,
		ServerName:     s.opts.ServerName,
	})
	if err != nil {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	if fr.https {
		params["HTTPS"] = "on"
		params["REQUEST_SCHEME"] = "https"
	}
	params["HTTP_X_GOFPM_FRONT"] = "1" // proto.HeaderFront, the client's own dropped

	// The request's context ends when the client goes away: the client
	// then aborts the FastCGI request and closes the connection, so the
	// worker's handler sees its context cancelled. read_timeout cancels it
	// too while no header has arrived; like nginx's fastcgi_read_timeout it
	// counts from the last byte of the request body sent, not from the
	// start of a slow upload.
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	rt := s.opts.ReadTimeout
	timer := time.AfterFunc(rt, func() { cancel(errReadTimeout) })
	var pr *progressReader
	var body io.Reader
	if r.ContentLength != 0 {
		pr = &progressReader{r: r.Body, t: timer, d: rt}
		body = pr
	} // else nothing to stream: no stdin goroutine in the client
	resp, err := u.client.Do(ctx, &fcgi.Request{Params: params, Body: body, ContentLength: r.ContentLength})
	if !pr.stop(timer) && err == nil && context.Cause(ctx) == errReadTimeout {
		resp.Body.Close() // the header came as the timer fired: too late
		err = errReadTimeout
	}
	if err != nil {
		s.upstreamError(w, r, u, ctx, err)
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
	s.stream(w, r, u, resp)
}

// stream copies the response body record by record: it flushes whenever
// nothing more has arrived from the worker, so server-sent events and long
// polls are not held back, while a short response still goes out in one
// write with its Content-Length.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, u *upstream, resp *fcgi.Response) {
	fl, _ := w.(http.Flusher)
	pending, _ := resp.Body.(interface{ Buffered() int })
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client is gone; closing the body closes the FastCGI connection
			}
			if fl != nil && (pending == nil || pending.Buffered() == 0) {
				fl.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if r.Context().Err() == nil {
				s.log.Warn().Err(err).Str("pool", u.name).Str("uri", r.RequestURI).Msgf("upstream response cut: %v", err)
			}
			panic(http.ErrAbortHandler) // the client must see a broken response, not a complete one
		}
	}
	if se := resp.Stderr(); len(se) > 0 {
		s.log.Warn().Str("pool", u.name).Str("uri", r.RequestURI).Msgf("FastCGI sent in stderr: %q", strings.TrimSpace(string(se)))
	}
}

// progressReader is a request body that pushes read_timeout back each
// time the client sends more of it, until the response header is there
// (the body may still stream after it; the timer must stay stopped).
type progressReader struct {
	r       io.Reader
	t       *time.Timer
	d       time.Duration
	mu      sync.Mutex
	stopped bool
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.mu.Lock()
		if !p.stopped {
			p.t.Reset(p.d)
		}
		p.mu.Unlock()
	}
	return n, err
}

// stop stops the timer t (p's, or the one of a request without a body
// when p is nil) for good; false if it had fired.
func (p *progressReader) stop(t *time.Timer) bool {
	if p == nil {
		return t.Stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	return p.t.Stop()
}
