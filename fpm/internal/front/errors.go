package front

// This file maps what went wrong with a pool onto the answer the client
// gets, as nginx would answer it.

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/gofpm/gofpm/fcgi"
)

// upstreamError answers a request whose worker could not be asked or sent
// no header: 413 for a body over max_body_bytes, 400 for a body the client
// could not send, 504 for a timeout, nothing for a client that left
// (nginx's 499), 503 when the pool refuses, else 502.
func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, u *upstream, err error) {
	var mbe *http.MaxBytesError
	code := http.StatusBadGateway
	var ne net.Error
	switch {
	case errors.Is(err, fcgi.ErrBodyTooLarge) || errors.As(err, &mbe):
		w.Header().Set("Connection", "close")
		http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
		return
	case r.Context().Err() != nil:
		s.log.Debug().Str("pool", u.name).Str("uri", logURI(r)).Msg("client closed the connection before the response (499)")
		w.WriteHeader(499) // nginx's status for it: nobody reads it, the access line does
		return
	case strings.Contains(err.Error(), "reading request body"):
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	case errors.Is(err, fcgi.ErrHeaderTimeout):
		code = http.StatusGatewayTimeout
		err = fmt.Errorf("no response header within read_timeout (%s)", s.opts.ReadTimeout)
	case errors.As(err, &ne) && ne.Timeout():
		code = http.StatusGatewayTimeout
	case errors.Is(err, fcgi.ErrOverloaded):
		code = http.StatusServiceUnavailable
	}
	s.log.Error().Err(err).Str("pool", u.name).Str("uri", logURI(r)).Int("status", code).Msgf("upstream: %v", err)
	http.Error(w, http.StatusText(code), code)
}

// logURIMax is how much of a request URI goes into a log line: a URI may
// be as long as max_header_bytes (64 KiB), and a line per failed request
// that long would let a client fill the disk with the master's log
// (nginx cuts its error lines at 2 KiB).
const logURIMax = 1024

// logURI is the request URI for a log line, cut at logURIMax.
func logURI(r *http.Request) string {
	if len(r.RequestURI) <= logURIMax {
		return r.RequestURI
	}
	return strings.ToValidUTF8(r.RequestURI[:logURIMax], "") + "..."
}
