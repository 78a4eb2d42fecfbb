package dispatch

// This file serves one request read from a client: the answers the
// dispatcher gives itself, the choice of a worker, and the relay of the
// request to it and of its answer back, with the retry when a worker died
// before it read the request.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/gofpm/gofpm/fcgi"
)

// maxPicks bounds how many workers one request is offered to, dead ones
// (whose socket refuses the connection) included.
const maxPicks = 64

// errClientGone is pumpStdin's error when reading the client failed.
var errClientGone = errors.New("dispatch: the client's body ended early")

// relayResult is how one attempt at relaying went.
type relayResult uint8

const (
	relayDone   relayResult = iota // END_REQUEST relayed
	relayRetry                     // the worker did not read the request: another may take it
	relayFailed                    // the worker read it and died (or broke the protocol)
	relayGone                      // the client went away
)

// handle serves p and reports whether the connection may serve another
// request.
func (cc *clientConn) handle(p *pending) bool {
	d, r := cc.d, &p.req
	defer func() {
		if d.cfg.OnDone != nil {
			d.cfg.OnDone(r)
		}
	}()
	switch {
	case cc.local != nil:
		r.Outcome, r.Status = Local, 200
		body := d.cfg.Local(cc.local)
		var s statusScanner
		s.scan(body)
		r.Status, r.Bytes = s.code(), int64(len(body))
		return cc.answer(p, body) == nil
	case !allowed(d.cfg.Extensions, r.Script) || !allowed(d.cfg.Extensions, r.translated):
		// php-cgi with cgi.fix_pathinfo=0 runs PATH_TRANSLATED when it
		// is set, whatever SCRIPT_FILENAME says: both are checked, as
		// php-fpm checks the path it is about to run.
		if !allowed(d.cfg.Extensions, r.translated) {
			r.Script = r.translated
		}
		d.mu.Lock()
		d.stats.Denied++
		d.mu.Unlock()
		r.Outcome, r.Status = Denied, 403
		return cc.answer(p, answerDenied) == nil
	}
	tries := 0
picking:
	for picks := 0; picks < maxPicks; picks++ {
		w, wt, err := d.acquire(cc, r)
		if err != nil {
			r.Outcome, r.Status = Refused, 503
			if errors.Is(err, errQueueTimeout) {
				r.Outcome = TimedOut
			}
			return cc.answer(p, d.unavailable()) == nil
		}
		r.Tries++
		res, dialed := cc.relay(w, p, wt)
		d.doneWaiting(wt)
		d.finish(w, r)
		d.mu.Lock()
		killed := w.killed
		d.mu.Unlock()
		if killed && res == relayRetry {
			res = relayFailed // killed for its timeout: not run again
		}
		switch res {
		case relayDone:
			d.release(w)
			r.Outcome = Relayed
			tail := cc.tail
			cc.tail = nil
			return cc.write(tail) == nil
		case relayGone:
			d.release(w)
			r.Outcome = Abandoned
			return false
		case relayRetry:
			d.mu.Lock()
			if !dialed {
				d.dropLocked(w) // its socket refused: the process is gone
			}
			d.mu.Unlock()
			d.releaseLast(w) // the retry goes to another worker first
			if dialed {
				tries++
				if tries > d.cfg.Retries {
					break picking
				}
				d.mu.Lock()
				d.stats.Retried++
				d.mu.Unlock()
			}
			continue
		}
		// relayFailed
		d.mu.Lock()
		d.stats.Failed++
		d.mu.Unlock()
		d.release(w)
		if r.Bytes > 0 || !p.complete {
			r.Outcome = Failed
			return false // part of the answer is out: only closing tells the client
		}
		if killed {
			r.Outcome, r.Status = Terminated, 504
			return cc.answer(p, answerTimeout) == nil
		}
		r.Outcome, r.Status = Failed, 502
		return cc.answer(p, answerDied) == nil
	}
	d.mu.Lock()
	d.stats.Failed++
	d.mu.Unlock()
	r.Outcome, r.Status = Failed, 502
	return cc.answer(p, answerDied) == nil
}

// relay sends the request held in the buffers to w and relays the answer.
// dialed is false when w's socket refused the connection.
func (cc *clientConn) relay(w *worker, p *pending, wt *waiter) (res relayResult, dialed bool) {
	ok, refused := false, false
	if wt != nil && wt.cc == cc && (wt.sent || wt.refused) {
		ok, refused = wt.sent, wt.refused // handOver sent it already
	} else {
		ok, refused = cc.sendHead(w)
	}
	if !ok {
		return relayRetry, !refused
	}
	var pump chan error
	if !p.complete {
		pump = make(chan error, 1)
		go func() { pump <- cc.pumpStdin(w.conn, p.id) }()
	}
	res = cc.relayAnswer(w, p)
	if pump != nil {
		select {
		case err := <-pump:
			if err != nil && res == relayDone {
				res = relayGone
			}
			if errors.Is(err, errClientGone) {
				res = relayGone
			}
		default:
			// The worker answered before reading the whole body: the
			// rest of it cannot be told from the next request.
			closeWorkerConn(w)
			cc.c.SetReadDeadline(aLongTimeAgo)
			err := <-pump
			if res == relayDone || errors.Is(err, errClientGone) && !errors.Is(err, os.ErrDeadlineExceeded) {
				res = relayGone
			}
		}
		if res == relayRetry {
			res = relayFailed // part of the body went: it cannot be sent again
		}
	}
	if res != relayDone && res != relayGone || w.noKeep {
		closeWorkerConn(w)
	}
	return res, true
}

// sendHead opens w's connection if it has none and writes the request's
// first records; a kept connection the worker closed meanwhile is
// replaced once. refused: w's socket refused the connection (nothing
// listens there any more).
func (cc *clientConn) sendHead(w *worker) (ok, refused bool) {
	for attempt := 0; attempt < 2; attempt++ {
		reused := w.conn != nil
		if !reused {
			c, err := net.Dial("unix", w.addr)
			if err != nil {
				return false, true
			}
			w.conn, w.served = c, 0
			if w.br == nil {
				w.br = bufio.NewReaderSize(c, 16<<10)
			} else {
				w.br.Reset(c)
			}
		}
		setKeep(cc.b.head, !w.noKeep)
		if _, err := w.conn.Write(cc.b.head); err == nil {
			return true, false
		}
		if reused && w.served == 1 {
			keptLost(w)
		}
		closeWorkerConn(w)
		if !reused {
			return false, false
		}
	}
	return false, false
}

// keptLost notes that w closed a connection it was asked to keep after
// one request; the second time, it gets a new connection per request.
func keptLost(w *worker) {
	w.keepLost++
	if w.keepLost >= 2 {
		w.noKeep = true // it closes what it is asked to keep
	}
}

// setKeep sets or clears FCGI_KEEP_CONN in the BEGIN_REQUEST at the start
// of head.
func setKeep(head []byte, keep bool) {
	const flags = fcgi.HeaderSize + 2
	if keep {
		head[flags] |= 1
	} else {
		head[flags] &^= 1
	}
}

// relayAnswer relays w's records to the client until END_REQUEST,
// coalescing what the worker sent together into one write.
func (cc *clientConn) relayAnswer(w *worker, p *pending) relayResult {
	out := cc.b.out[:0]
	r := &p.req
	var status statusScanner
	gone := false
	flush := func() {
		if len(out) > 0 && !gone {
			if _, err := cc.c.Write(out); err != nil {
				gone = true
			}
		}
		out = out[:0]
	}
	for {
		start := len(out)
		if cap(out)-start < fcgi.MaxRecordSize {
			flush()
			start = 0
		}
		h, next, err := readRecord(w.br, out)
		if err != nil {
			flush()
			if r.Bytes == 0 && idempotent(r.Method) && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
				// It died with part of the request unread (the kernel
				// resets a connection closed with data in it). php-cgi
				// leaves the end of STDIN unread while the script runs,
				// so this may be a request it had begun: only a request
				// that may be repeated goes to another worker, as nginx
				// does with fastcgi_next_upstream.
				if w.served == 1 {
					// Reset on the kept connection after its first
					// request: the worker closed it after answering
					// (Python's and Ruby's examples do), and the request
					// crossed the close. It never began.
					w.lostKept = true
					keptLost(w)
				}
				return relayRetry
			}
			if gone {
				return relayGone
			}
			return relayFailed
		}
		out = next
		rec := out[start:]
		setID(rec, p.id)
		switch h.Type {
		case fcgi.TypeStdout:
			content := rec[fcgi.HeaderSize : fcgi.HeaderSize+h.ContentLength]
			if !status.done {
				status.scan(content)
			}
			r.Bytes += int64(h.ContentLength)
		case fcgi.TypeStderr:
		case fcgi.TypeEndRequest:
			// The end goes out once the worker is released (handle), so
			// a client that sends its next request at once finds the
			// worker idle and the request counted.
			w.served++
			r.Status = status.code()
			if gone {
				return relayGone
			}
			cc.tail = out
			return relayDone
		default:
			out = out[:start] // not part of the answer
		}
		if w.br.Buffered() == 0 || len(out) >= flushAt {
			flush()
		}
	}
}

// idempotent reports whether a request of method may run twice.
func idempotent(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "":
		return true
	}
	return false
}

// pumpStdin relays the rest of a large body to the worker while its answer
// is relayed.
//
// When the client's connection ends before the body does, it closes the
// worker's connection: the worker waits for the rest of the body
// otherwise, and the answer relayAnswer waits for never comes, so one
// aborted upload would hold the worker for good.
func (cc *clientConn) pumpStdin(wc net.Conn, id uint16) error {
	buf := make([]byte, 0, fcgi.MaxRecordSize)
	for {
		h, rec, err := readRecord(cc.b.in, buf[:0])
		if err != nil {
			wc.Close()
			return fmt.Errorf("%w: %w", errClientGone, err)
		}
		if h.RequestID != id || (h.Type != fcgi.TypeStdin && h.Type != fcgi.TypeData) {
			continue
		}
		setID(rec, workerID)
		if _, err := wc.Write(rec); err != nil {
			return err
		}
		if h.Type == fcgi.TypeStdin && h.ContentLength == 0 {
			return nil
		}
	}
}
