package fpm

// This file serves the master's own pages — the status and ping pages of
// php-fpm — over FastCGI on pm_status_listen, and to the HTTP front. The
// master answers from what it knows of every worker, so the page answers
// even when every worker is busy.

import (
	"bufio"
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
		r.header, r.body = renderPing(p.cfg.PingResponse)
		if head {
			r.body = nil
		}
	case p.cfg.PMStatusPath != "" && name == p.cfg.PMStatusPath:
		if head { // php-fpm answers HEAD before it picks the format
			return pageResponse{header: renderStatusHead()}
		}
		snap := p.statusSnapshot()
		if snap == nil {
			return pageResponse{status: 500, header: []string{"Content-type: text/plain;charset=UTF-8"}, body: []byte("Internal error. Please review log file for errors.")}
		}
		format, full := parseStatusQuery(params["QUERY_STRING"])
		r.header, r.body = renderStatus(snap, format, full, now)
	default:
		return notFound
	}
	return r
}

// poolReport is what the pool loop tells about itself: the status page's
// snapshot and the counters behind /metrics.
type poolReport struct {
	status      *statusSnapshot
	count       poolCounters // recycled is a copy
	hist        proto.Histogram
	maxChildren int
}

// report builds a poolReport, in the run goroutine.
func (p *pool) report(now time.Time) *poolReport {
	r := &poolReport{status: p.buildStatus(now), count: p.count, hist: p.count.hist, maxChildren: p.cfg.PMMaxChildren}
	r.count.recycled = maps.Clone(p.count.recycled)
	for _, c := range p.children {
		if c.slot != nil {
			r.hist.Add(c.slot.Histogram())
		}
	}
	return r
}

// statusSnapshot asks the pool loop for a snapshot; nil when the pool has
// stopped or does not answer in time.
func (p *pool) statusSnapshot() *statusSnapshot {
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

func newPageServer(p *pool, f *os.File) (*pageServer, error) {
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	return &pageServer{pool: p, ln: ln, log: p.log, done: make(chan struct{})}, nil
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

// serveFCGIPages is a minimal FastCGI responder for the master's pages:
// one request at a time, keep-conn honoured, FCGI_GET_VALUES answered,
// unknown record types refused with FCGI_UNKNOWN_TYPE.
func serveFCGIPages(c net.Conn, answer func(map[string]string) pageResponse) error {
	br := bufio.NewReaderSize(c, 8192)
	buf := make([]byte, fcgi.MaxRecordSize)
	var (
		id       uint16
		keepConn bool
		params   []byte
		gotPar   bool
		stdin    int
	)
	for {
		c.SetDeadline(time.Now().Add(pageTimeout))
		rec, err := fcgi.ReadRecord(br, buf)
		if err != nil {
			return err
		}
		switch rec.Type {
		case fcgi.TypeGetValues:
			res := fcgi.AppendPairs(nil, map[string]string{fcgi.MaxConns: "16", fcgi.MaxReqs: "16", fcgi.MpxsConns: "0"})
			if err := fcgi.WriteRecord(c, fcgi.TypeGetValuesResult, 0, res); err != nil {
				return err
			}
			continue
		case fcgi.TypeBeginRequest:
			role, kc, err := fcgi.ParseBeginRequest(rec.Content)
			if err != nil {
				return err
			}
			if id != 0 { // one request at a time
				c.Write(fcgi.AppendEndRequest(nil, rec.RequestID, 0, fcgi.StatusCantMultiplex))
				continue
			}
			if role != fcgi.RoleResponder {
				if _, err := c.Write(fcgi.AppendEndRequest(nil, rec.RequestID, 0, fcgi.StatusUnknownRole)); err != nil {
					return err
				}
				continue
			}
			id, keepConn, params, gotPar, stdin = rec.RequestID, kc, params[:0], false, 0
			continue
		}
		if rec.RequestID != id || id == 0 {
			if rec.Type > fcgi.TypeUnknownType {
				c.Write(fcgi.AppendUnknownType(nil, rec.Type))
				continue
			}
			return fmt.Errorf("%v record for request %d, want %d", rec.Type, rec.RequestID, id)
		}
		switch rec.Type {
		case fcgi.TypeAbortRequest:
			if _, err := c.Write(fcgi.AppendEndRequest(nil, id, 0, fcgi.StatusRequestComplete)); err != nil {
				return err
			}
			id = 0
			if !keepConn {
				return nil
			}
			continue
		case fcgi.TypeParams:
			if len(rec.Content) == 0 {
				gotPar = true
				continue
			}
			if len(params)+len(rec.Content) > pageMaxParams {
				c.Write(fcgi.AppendRecords(nil, fcgi.TypeStderr, id, []byte("params too large")))
				c.Write(fcgi.AppendEndRequest(nil, id, 1, fcgi.StatusRequestComplete))
				return fmt.Errorf("params larger than %d bytes", pageMaxParams)
			}
			params = append(params, rec.Content...)
			continue
		case fcgi.TypeStdin:
			stdin += len(rec.Content)
			if stdin > pageMaxStdin {
				return fmt.Errorf("request body larger than %d bytes", pageMaxStdin)
			}
			if len(rec.Content) > 0 || !gotPar {
				continue
			}
		default:
			continue // FCGI_DATA and the like: ignored
		}
		// Empty STDIN after the params: the request is complete.
		m, err := fcgi.ReadPairs(params, pageMaxParams)
		if err != nil {
			return err
		}
		r := answer(m)
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
		msg := fcgi.AppendRecords(nil, fcgi.TypeStdout, id, []byte(out.String()))
		msg = fcgi.AppendRecords(msg, fcgi.TypeStdout, id, nil)
		msg = fcgi.AppendEndRequest(msg, id, 0, fcgi.StatusRequestComplete)
		if _, err := c.Write(msg); err != nil {
			return err
		}
		id = 0
		if !keepConn {
			return nil
		}
	}
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
	for {
		if err := serveFCGIPages(noDeadline{c}, answer); err != nil {
			return
		}
	}
}

// noDeadline ignores SetDeadline.
type noDeadline struct{ net.Conn }

func (noDeadline) SetDeadline(time.Time) error { return nil }

// buildStatus is the pool's status snapshot, from the run goroutine.
func (p *pool) buildStatus(now time.Time) *statusSnapshot {
	s := &statusSnapshot{
		Pool: p.cfg.Name, PM: p.cfg.PM, StartTime: p.started,
		Accepted:    p.count.accepted,
		ListenQueue: p.count.listenQueue, MaxListenQueue: p.count.maxListenQueue, ListenQueueLen: p.count.listenBacklog,
		MaxActive: p.count.maxActive, MaxChildrenReached: p.count.maxChildrenReached, SlowRequests: p.count.slowRequests,
	}
	for _, pid := range sortedPids(p.children) {
		c := p.children[pid]
		pr := statusProc{PID: pid, StartTime: c.started, Requests: c.seenReqs}
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
		if pr.State == "Idle" {
			if rss, err := processRSS(pid); err == nil {
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
