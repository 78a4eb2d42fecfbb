package fpm

// This file serves the master's own pages — the status and ping pages of
// php-fpm — over FastCGI on pm_status_listen, and to the HTTP front. The
// master answers from what it knows of every worker, so the page answers
// even when every worker is busy.

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/fpm/internal/procfs"
	"github.com/gofpm/gofpm/fpm/internal/status"
	"github.com/gofpm/gofpm/worker/proto"
	"github.com/rs/zerolog"
)

// Limits for requests to the master's pages: they are tiny, so anything
// larger is refused rather than buffered.
const (
	pageMaxParams = 64 << 10
	pageMaxStdin  = 64 << 10
	pageTimeout   = 10 * time.Second
)

// pageResponse is one answer of the master's pages.
type pageResponse struct {
	status int      // 200 unless said
	header []string // "Name: value" lines, in order
	body   []byte
}

// page answers one request for pool p's status or ping page, matching
// SCRIPT_NAME as php-fpm does (§3.1 of the reference): ping first, then
// status; anything else is php-fpm's 404.
func (p *pool) page(params map[string]string, now time.Time) pageResponse {
	notFound := pageResponse{status: 404, header: []string{"Content-type: text/plain;charset=UTF-8"}, body: []byte("File not found.\n")}
	if params["REQUEST_METHOD"] == "" {
		return pageResponse{status: 404}
	}
	if params["SCRIPT_FILENAME"] == "" && params["PATH_TRANSLATED"] == "" {
		return notFound
	}
	head := params["REQUEST_METHOD"] == "HEAD"
	name := params["SCRIPT_NAME"]
	var r pageResponse
	switch {
	case p.cfg.PingPath != "" && name == p.cfg.PingPath:
		r.header, r.body = status.RenderPing(p.cfg.PingResponse)
		if head {
			r.body = nil
		}
	case p.cfg.PMStatusPath != "" && name == p.cfg.PMStatusPath:
		if head { // php-fpm answers HEAD before it picks the format
			return pageResponse{header: status.RenderHead()}
		}
		snap := p.statusSnapshot()
		if snap == nil {
			return pageResponse{status: 500, header: []string{"Content-type: text/plain;charset=UTF-8"}, body: []byte("Internal error. Please review log file for errors.")}
		}
		format, full := status.ParseQuery(params["QUERY_STRING"])
		r.header, r.body = status.Render(snap, format, full, now)
	default:
		return notFound
	}
	return r
}

// poolReport is what the pool loop tells about itself: the status page's
// snapshot and the counters behind /metrics.
type poolReport struct {
	status      *status.Snapshot
	count       poolCounters // recycled is a copy
	hist        proto.Histogram
	maxChildren int
	failing     bool                   // workers keep failing at start (back-off on)
	disp        *status.DispatchCounts // dispatch = "master" only
}

// report builds a poolReport, in the run goroutine.
func (p *pool) report(now time.Time) *poolReport {
	r := &poolReport{status: p.buildStatus(now), count: p.count, hist: p.count.hist, maxChildren: p.cfg.PMMaxChildren, failing: p.failures > 0}
	r.count.recycled = maps.Clone(p.count.recycled)
	p.dispatchHistogram(&r.hist)
	r.disp = p.dispatchCounts()
	for _, c := range p.children {
		if c.slot != nil {
			r.hist.Add(c.slot.Histogram())
		}
	}
	return r
}

// statusSnapshot asks the pool loop for a snapshot; nil when the pool has
// stopped or does not answer in time.
func (p *pool) statusSnapshot() *status.Snapshot {
	if r := p.askReport(); r != nil {
		return r.status
	}
	return nil
}

// askReport asks the pool loop for a report; nil when the pool has stopped
// or does not answer in time.
func (p *pool) askReport() *poolReport {
	reply := make(chan *poolReport, 1)
	select {
	case p.statusC <- reply:
	case <-time.After(2 * time.Second):
		return nil
	}
	select {
	case s := <-reply:
		return s
	case <-time.After(2 * time.Second):
		return nil
	}
}

// pageServer serves the pages of one pool over FastCGI on a listener of
// its own (pm_status_listen).
type pageServer struct {
	pool *pool
	ln   net.Listener
	log  zerolog.Logger
	done chan struct{}
}

func newPageServer(p *pool, ln net.Listener) *pageServer {
	return &pageServer{pool: p, ln: ln, log: p.log, done: make(chan struct{})}
}

func (s *pageServer) serve() {
	defer close(s.done)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn().Err(err).Msgf("[pool %s] status listener: %v", s.pool.cfg.Name, err)
			return
		}
		go s.serveConn(c)
	}
}

func (s *pageServer) close() {
	s.ln.Close()
	<-s.done
}

// serveConn answers the FastCGI requests of one connection in turn. Any
// malformed or oversized record ends the connection with a log line and
// nothing else is affected.
func (s *pageServer) serveConn(c net.Conn) {
	defer c.Close()
	if err := serveFCGIPages(c, func(params map[string]string) pageResponse {
		return s.pool.page(params, time.Now())
	}); err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, os.ErrDeadlineExceeded) { // an idle kept connection, or a silent client
			s.log.Debug().Err(err).Msgf("[pool %s] status listener: closing an idle connection", s.pool.cfg.Name)
			return
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("truncated FastCGI record")
		}
		s.log.Warn().Err(err).Msgf("[pool %s] status listener: closing a connection: %v", s.pool.cfg.Name, err)
	}
}

// pagesResponder is the FastCGI side of the master's pages: one request
// at a time, keep-conn honoured, FCGI_GET_VALUES answered, unknown record
// types refused with FCGI_UNKNOWN_TYPE.
func pagesResponder(answer func(map[string]string) pageResponse, timeout time.Duration) *fcgi.Responder {
	return &fcgi.Responder{
		MaxParams: pageMaxParams, MaxStdin: pageMaxStdin, Timeout: timeout,
		Values: map[string]string{fcgi.MaxConns: "16", fcgi.MaxReqs: "16", fcgi.MpxsConns: "0"},
		Answer: func(params map[string]string) []byte { return answer(params).cgi() },
	}
}

// serveFCGIPages answers the page requests of c until a request without
// keep-conn ends (nil) or the connection does (its error); a record may
// take pageTimeout at most.
func serveFCGIPages(c net.Conn, answer func(map[string]string) pageResponse) error {
	return pagesResponder(answer, pageTimeout).ServeConn(c)
}

// cgi is r as a CGI response: the status line unless 200, the header
// lines, and the body.
func (r pageResponse) cgi() []byte {
	var out strings.Builder
	if r.status != 0 && r.status != 200 {
		fmt.Fprintf(&out, "Status: %d %s\r\n", r.status, httpStatusText(r.status))
	}
	for _, h := range r.header {
		out.WriteString(h)
		out.WriteString("\r\n")
	}
	out.WriteString("\r\n")
	out.Write(r.body)
	return []byte(out.String())
}

func httpStatusText(code int) string {
	switch code {
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	}
	return strconv.Itoa(code)
}

// servePages answers the page requests a Go worker passes on its private
// connection (proto.PagesFD) until the worker closes it.
func (p *pool) servePages(f *os.File) {
	c, err := net.FileConn(f)
	if err != nil {
		return
	}
	defer c.Close()
	serveFCGIPagesKept(c, func(params map[string]string) pageResponse { return p.page(params, time.Now()) })
}

// serveFCGIPagesKept serves a connection that has no deadline: a worker's
// page connection is idle for as long as nobody asks for the status.
func serveFCGIPagesKept(c net.Conn, answer func(map[string]string) pageResponse) {
	r := pagesResponder(answer, 0)
	for r.ServeConn(c) == nil {
	}
}

// buildStatus is the pool's status snapshot, from the run goroutine.
func (p *pool) buildStatus(now time.Time) *status.Snapshot {
	s := &status.Snapshot{
		Pool: p.cfg.Name, PM: p.cfg.PM, StartTime: p.started,
		Accepted:    p.count.accepted,
		ListenQueue: p.count.listenQueue, MaxListenQueue: p.count.maxListenQueue, ListenQueueLen: p.count.listenBacklog,
		MaxActive: p.count.maxActive, MaxChildrenReached: p.count.maxChildrenReached, SlowRequests: p.count.slowRequests,
	}
	for _, pid := range sortedPids(p.children) {
		c := p.children[pid]
		pr := status.Proc{PID: pid, StartTime: c.started, Requests: c.seenReqs}
		switch c.state {
		case wsBusy:
			s.Active++
			pr.State = "Running"
			if !c.req.start.IsZero() {
				pr.RequestDuration = now.Sub(c.req.start)
			}
		case wsEnding:
			s.Active++
			pr.State = "Ending"
		default:
			s.Idle++
			pr.State = "Idle"
			pr.RequestDuration = c.lastDuration
		}
		if c.slot != nil {
			if snap := c.slot.Read(); snap.Written {
				pr.State = snap.Stage.String()
				if pr.State == "Starting" {
					pr.State = "Idle"
				}
				pr.RequestMethod, pr.RequestURI, pr.QueryString = snap.Method, snap.URI, snap.Query
				pr.ContentLength, pr.Script = snap.ContentLength, snap.Script
				if snap.CPUMeasured && snap.LastDuration > 0 {
					pr.LastRequestCPU = 100 * float64(snap.LastCPU) / float64(snap.LastDuration)
				}
			}
		}
		p.dispatchProc(&pr)
		if pr.State == "Idle" && pr.LastRequestMemory == 0 {
			if rss, err := procfs.RSS(pid); err == nil {
				pr.LastRequestMemory = rss
			}
		}
		s.Procs = append(s.Procs, pr)
	}
	s.Total = s.Idle + s.Active
	return s
}

func sortedPids(m map[int]*child) []int {
	out := make([]int, 0, len(m))
	for pid := range m {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}
