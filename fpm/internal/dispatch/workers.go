package dispatch

// This file is the registry of workers and the queue: which worker is idle,
// which request waits, and who gets a worker that becomes free.

import (
	"bufio"
	"errors"
	"net"
	"time"
)

// Errors of acquire, each answered to the client by the dispatcher.
var (
	errQueueFull    = errors.New("dispatch: queue full")
	errQueueTimeout = errors.New("dispatch: queue timeout")
	errClosed       = errors.New("dispatch: dispatcher closed")
)

// worker is one worker process as the dispatcher sees it. Guarded by
// Dispatcher.mu, except conn and br, which belong to whoever holds the
// worker (the request it is acquired for).
type worker struct {
	id   int
	addr string // its private listening socket

	conn      net.Conn      // the kept connection; nil when none is open
	br        *bufio.Reader // reads conn
	noKeep    bool          // it closes the connections it is asked to keep
	keepLost  int           // kept connections found closed after one request
	lostKept  bool          // the last try found its kept connection closed: not begun
	served    int           // requests on conn
	busy      bool
	retired   bool // takes no new request; dropped when free
	asked     bool // Retire was called (not only its request limit reached)
	gone      bool // removed: its process exited
	killed    bool // Terminate was called for its current request
	since     time.Time
	requests  uint64
	max       uint64 // requests it serves before it leaves; 0: no limit
	cur, last Request
}

// waiter is a request waiting in the queue for a worker.
type waiter struct {
	ch chan *worker // receives the worker; buffered, 1
	cc *clientConn  // the request's connection, whose head may be sent ahead
	// sent: whoever freed the worker has already written the request's
	// first records to it (handOver), so the worker starts without waiting
	// for the waiting goroutine to wake; refused when that found the
	// worker's socket gone.
	sent, refused bool
}

// AddWorker makes a worker known: it takes requests on the Unix socket at
// addr from now on, maxRequests of them at most (0: no limit; the worker
// leaves after that many, as php-cgi does with PHP_FCGI_MAX_REQUESTS, so
// it gets no more). An id already known is replaced.
func (d *Dispatcher) AddWorker(id int, addr string, maxRequests int) {
	w := &worker{id: id, addr: addr, since: d.now(), max: uint64(max(maxRequests, 0))}
	d.mu.Lock()
	if old := d.workers[id]; old != nil {
		d.dropLocked(old)
	}
	d.workers[id] = w
	wt := d.releaseLocked(w)
	d.mu.Unlock()
	d.handOver(w, wt)
}

// Retire stops giving requests to worker id; its request in flight, if
// any, finishes. Its kept connection is closed once it is free, so a worker
// that waits on it sees the end and can leave.
func (d *Dispatcher) Retire(id int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if w := d.workers[id]; w != nil {
		w.retired, w.asked = true, true
		if !w.busy {
			d.removeIdleLocked(w)
			closeWorkerConn(w)
		}
	}
}

// RemoveWorker forgets worker id, whose process has exited.
func (d *Dispatcher) RemoveWorker(id int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if w := d.workers[id]; w != nil {
		d.dropLocked(w)
		delete(d.workers, id)
	}
}

// Terminate tells the dispatcher that worker id is being killed for its
// request's timeout: if the worker dies before answering, the client gets
// 504 from the dispatcher.
func (d *Dispatcher) Terminate(id int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if w := d.workers[id]; w != nil && w.busy {
		w.killed = true
	}
}

// dropLocked takes w out of service for good.
func (d *Dispatcher) dropLocked(w *worker) {
	w.gone, w.retired = true, true
	if !w.busy {
		d.removeIdleLocked(w)
		closeWorkerConn(w)
	}
}

func closeWorkerConn(w *worker) {
	if w.conn != nil {
		w.conn.Close()
		w.conn, w.br, w.served = nil, nil, 0
	}
}

func (d *Dispatcher) removeIdleLocked(w *worker) {
	for i, x := range d.idle {
		if x == w {
			d.idle = append(d.idle[:i], d.idle[i+1:]...)
			return
		}
	}
}

// acquire returns an idle worker for r, waiting in the queue when there is
// none: errQueueFull at once when MaxQueue requests wait already,
// errQueueTimeout after QueueTimeout.
func (d *Dispatcher) acquire(cc *clientConn, r *Request) (*worker, *waiter, error) {
	d.mu.Lock()
	if n := len(d.idle); n > 0 {
		w := d.idle[n-1] // the most recently idle
		d.idle = d.idle[:n-1]
		d.startLocked(w, r)
		d.mu.Unlock()
		return w, nil, nil
	}
	if d.closed && len(d.workers) == 0 {
		d.mu.Unlock()
		return nil, nil, errClosed
	}
	if len(d.queue) >= d.cfg.MaxQueue {
		d.stats.Refused++
		d.mu.Unlock()
		return nil, nil, errQueueFull
	}
	wt := d.waiters.Get().(*waiter)
	wt.cc, wt.sent, wt.refused = cc, false, false
	d.queue = append(d.queue, wt)
	d.stats.MaxQueued = max(d.stats.MaxQueued, len(d.queue))
	wait := d.cfg.OnWait
	d.mu.Unlock()
	if wait != nil {
		wait()
	}
	var timeout <-chan time.Time
	if d.cfg.QueueTimeout > 0 {
		t := time.NewTimer(d.cfg.QueueTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case w := <-wt.ch:
		d.mu.Lock()
		d.startLocked(w, r)
		d.mu.Unlock()
		return w, wt, nil
	case <-timeout:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, x := range d.queue {
		if x == wt {
			d.queue = append(d.queue[:i], d.queue[i+1:]...)
			d.stats.TimedOut++
			wt.cc = nil
			d.waiters.Put(wt)
			return nil, nil, errQueueTimeout
		}
	}
	// Handed a worker just as the time ran out: take it.
	d.mu.Unlock()
	w := <-wt.ch
	d.mu.Lock()
	d.startLocked(w, r)
	return w, wt, nil
}

// startLocked marks w busy with r.
func (d *Dispatcher) startLocked(w *worker, r *Request) {
	if w.cur.Worker == 0 {
		d.busy++
		d.stats.MaxBusy = max(d.stats.MaxBusy, d.busy)
	}
	w.busy, w.killed = true, false
	r.Worker = w.id
	r.Start = d.now()
	w.since = r.Start
	w.cur = *r
	w.requests++
	if w.max > 0 && w.requests >= w.max {
		// Its last: it exits after it (its socket may still take a
		// connection meanwhile, which the exit would reset).
		w.retired = true
	}
	d.stats.Started++
}

// release gives w back after a request: to the request that waited
// longest, or to the top of the idle stack.
func (d *Dispatcher) release(w *worker) {
	d.mu.Lock()
	wt := d.releaseLocked(w)
	d.mu.Unlock()
	d.handOver(w, wt)
}

// handOver gives w to the waiter releaseLocked chose, if any, writing the
// waiting request's first records to w first: the worker starts at once,
// and the waiting goroutine relays the answer when it wakes.
func (d *Dispatcher) handOver(w *worker, wt *waiter) {
	if wt == nil {
		return
	}
	if wt.cc != nil {
		ok, refused := wt.cc.sendHead(w)
		wt.sent, wt.refused = ok, refused
	}
	wt.ch <- w
}

// doneWaiting returns a waiter to the pool once its request has used what
// handOver left in it.
func (d *Dispatcher) doneWaiting(wt *waiter) {
	if wt != nil {
		wt.cc = nil
		d.waiters.Put(wt)
	}
}

// releaseLast gives w back at the bottom of the idle stack: the worker to
// pick last (it just failed a request).
func (d *Dispatcher) releaseLast(w *worker) {
	d.mu.Lock()
	wt := d.releaseLocked(w)
	if n := len(d.idle); n > 1 && d.idle[n-1] == w {
		copy(d.idle[1:], d.idle[:n-1])
		d.idle[0] = w
	}
	d.mu.Unlock()
	d.handOver(w, wt)
}

// releaseLocked makes w free: it returns the waiter that gets it, for
// handOver once the lock is released, or puts w on the idle stack.
func (d *Dispatcher) releaseLocked(w *worker) *waiter {
	w.busy, w.killed = false, false
	w.since = d.now()
	if w.retired || w.gone {
		closeWorkerConn(w)
		return nil
	}
	if len(d.queue) > 0 {
		wt := d.queue[0]
		d.queue = append(d.queue[:0], d.queue[1:]...)
		w.busy = true // reserved for the waiter, which starts it
		return wt
	}
	d.idle = append(d.idle, w)
	return nil
}

// finish records the end of w's request r.
func (d *Dispatcher) finish(w *worker, r *Request) {
	if w.lostKept {
		d.unstart(w)
		return
	}
	d.mu.Lock()
	r.End = d.now()
	w.last = *r
	if w.cur.Worker != 0 {
		d.busy--
	}
	w.cur = Request{}
	d.mu.Unlock()
}

// unstart undoes startLocked for a request w never began (it had closed
// the kept connection the request went to): w's request count, its
// request limit and its last request stay as they were.
func (d *Dispatcher) unstart(w *worker) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w.lostKept = false
	if w.cur.Worker != 0 {
		d.busy--
	}
	w.cur = Request{}
	w.requests--
	w.retired = w.gone || w.asked || w.max > 0 && w.requests >= w.max
}
