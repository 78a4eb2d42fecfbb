package kstate

import (
	"testing"
	"time"
)

func TestKernelClock(t *testing.T) {
	var c Clock
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	c.Observe(at(0), map[int]Worker{1: {Wait: WaitAccept}})
	if w, _ := c.Get(1); w.Busy || !w.Since.Equal(at(0)) || !w.After.IsZero() {
		t.Fatalf("first sight: %+v", w)
	}
	c.Observe(at(250), map[int]Worker{1: {Busy: true, Conn: 7, Conns: 1, Wait: WaitOther}})
	w, _ := c.Get(1)
	if !w.Busy || !w.Since.Equal(at(250)) || !w.After.Equal(at(0)) || !w.Request.Equal(at(250)) {
		t.Fatalf("busy: %+v", w)
	}
	// Same connection, keep-alive wait, then the next request.
	c.Observe(at(500), map[int]Worker{1: {Busy: true, Conn: 7, Conns: 1, Wait: WaitConn}})
	if w, _ := c.Get(1); !w.Since.Equal(at(250)) || !w.Request.IsZero() {
		t.Fatalf("kept: %+v", w)
	}
	c.Observe(at(750), map[int]Worker{1: {Busy: true, Conn: 7, Conns: 1, Wait: WaitRunning}})
	if w, _ := c.Get(1); !w.Since.Equal(at(250)) || !w.Request.Equal(at(750)) {
		t.Fatalf("next request: %+v", w)
	}
	// A new connection between two polls restarts the clock.
	c.Observe(at(1000), map[int]Worker{1: {Busy: true, Conn: 9, Conns: 1, Wait: WaitRunning}})
	if w, _ := c.Get(1); !w.Since.Equal(at(1000)) || !w.After.Equal(at(750)) || !w.Request.Equal(at(1000)) {
		t.Fatalf("new connection: %+v", w)
	}
	c.Observe(at(1250), map[int]Worker{})
	if _, ok := c.Get(1); ok {
		t.Fatal("a worker missing from the snapshot is still tracked")
	}
}
