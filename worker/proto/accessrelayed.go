package proto

// This file writes access lines for requests a master relayed to a worker
// (dispatch = "master"): the worker may be any program, so the line is
// made from the request's FastCGI params and what the master measured.

import (
	"context"
	"net/http"
	stdcgi "net/http/cgi"
	stdfcgi "net/http/fcgi"
	"time"
)

// RelayedRequest is one request a master relayed, for
// AccessLogger.LogRelayed.
type RelayedRequest struct {
	Params     map[string]string // the request's FastCGI params
	Start, End time.Time         // given to the worker; its END_REQUEST
	Status     int               // the answer's status code
	CPU        time.Duration     // the worker's CPU time over the request (user+system), 0 when unknown
	Memory     uint64            // the worker's resident bytes at the end (%M)
}

// paramsKey is the context key under which a relayed request's params
// travel, where stdfcgi.ProcessEnv cannot see them.
type paramsKey struct{}

// processEnv is the request's FastCGI params: a relayed request's own, or
// what net/http/fcgi gives a Go worker's request.
func processEnv(r *http.Request) map[string]string {
	if m, ok := r.Context().Value(paramsKey{}).(map[string]string); ok {
		return m
	}
	return stdfcgi.ProcessEnv(r)
}

// LogRelayed writes q's line with php-fpm's tokens: the request's fields
// from its params, %d %t %T from q's times, %C from q.CPU (as user time)
// and %M from q.Memory; %p is the logging process.
func (l *AccessLogger) LogRelayed(q *RelayedRequest) {
	r, err := stdcgi.RequestFromMap(q.Params)
	if err != nil {
		r = &http.Request{Method: q.Params["REQUEST_METHOD"], Header: http.Header{}}
	}
	r = r.WithContext(context.WithValue(context.Background(), paramsKey{}, q.Params))
	a := l.a
	rec := a.recs.Get().(*accessRecord)
	rec.status, rec.start, rec.end, rec.mem = q.Status, q.Start, q.End, q.Memory
	rec.cpu0, rec.cpu1 = cpuTimes{}, cpuTimes{user: q.CPU.Nanoseconds()}
	if a.skip == nil || !a.skip(r) {
		rec.buf = a.appendLine(rec.buf[:0], rec, r)
		if len(rec.buf) > 0 {
			if _, err := a.out.Write(rec.buf); err != nil {
				a.writeFailed(err)
			}
		}
	}
	rec.status, rec.mem = 0, 0
	clear(rec.hdrs)
	a.recs.Put(rec)
}
