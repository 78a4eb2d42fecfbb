package kstate

import "time"

// WorkerTime is what Clock knows of one worker.
type WorkerTime struct {
	Busy bool
	Conn uint64
	Wait Wait
	// Since is the first observation of the current state (for busy: of the
	// current connection); the change happened in (After, Since]. After is
	// zero for the first observation of a worker.
	Since, After time.Time
	// Request estimates the start of the current request (busy only): Since,
	// or the first observation after the worker was last seen in WaitConn
	// on this connection (a keep-alive wait for the next request). It is
	// zero while the worker is in WaitConn.
	Request time.Time
}

// Clock turns successive snapshots into since-times. Call Observe after
// every snapshot; it is not safe for concurrent use. The zero value is ready.
//
// For request_terminate_timeout, a worker's request has run for now-Request
// (Request non-zero), an under-estimate by at most one polling interval.
// For idle timeouts, a worker has been idle for now-Since.
type Clock struct {
	prev time.Time
	w    map[int]*WorkerTime
}

// Observe takes the snapshot snap, made at now. Workers missing from it
// are forgotten.
func (c *Clock) Observe(now time.Time, snap map[int]Worker) {
	if c.w == nil {
		c.w = make(map[int]*WorkerTime)
	}
	for pid, s := range snap {
		t := c.w[pid]
		if t == nil || t.Busy != s.Busy || t.Conn != s.Conn {
			after := c.prev
			if t == nil {
				after = time.Time{}
			}
			t = &WorkerTime{Busy: s.Busy, Conn: s.Conn, Since: now, After: after}
			if s.Busy && s.Wait != WaitConn {
				t.Request = now
			}
			c.w[pid] = t
		} else if s.Busy {
			switch {
			case s.Wait == WaitConn:
				t.Request = time.Time{}
			case t.Request.IsZero():
				t.Request = now
			}
		}
		t.Wait = s.Wait
	}
	for pid := range c.w {
		if _, ok := snap[pid]; !ok {
			delete(c.w, pid)
		}
	}
	c.prev = now
}

// Get returns what the clock knows of pid; false when the last snapshot
// did not have it.
func (c *Clock) Get(pid int) (WorkerTime, bool) {
	t, ok := c.w[pid]
	if !ok {
		return WorkerTime{}, false
	}
	return *t, true
}
