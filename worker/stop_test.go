package worker

import (
	"net"
	"testing"
)

// gateListener's Accept tells entered, then waits for release before it
// hands out c: the moment between the kernel's accept and the worker's
// count of the connection, held open.
type gateListener struct {
	c                net.Conn
	entered, release chan struct{}
}

func (l *gateListener) Accept() (net.Conn, error) {
	l.entered <- struct{}{}
	<-l.release
	return l.c, nil
}
func (l *gateListener) Close() error   { return nil }
func (l *gateListener) Addr() net.Addr { return unixAddr }

// TestStopWaitsForAccept: a graceful stop waits for an accept under way,
// then for the connection it took: the worker is never idle in between,
// so it cannot exit with a connection accepted and unread (the web server
// would see it reset).
func TestStopWaitsForAccept(t *testing.T) {
	web, wk := net.Pipe()
	defer web.Close()
	ln := &gateListener{c: wk, entered: make(chan struct{}), release: make(chan struct{})}
	s := &server{concurrency: 1, slots: make(chan struct{}, 1), idle: make(chan struct{}, 1),
		stopping: make(chan struct{}), ln: ln}
	ll := limitListener{s}
	got := make(chan *conn, 1)
	go func() {
		c, err := ll.accept(nil)
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	<-ln.entered
	if n := s.inFlight(); n != 1 {
		t.Fatalf("in flight during the accept: %d, want 1 (a stop now would exit)", n)
	}
	close(ln.release)
	c := <-got
	if n := s.inFlight(); n != 1 {
		t.Fatalf("in flight once accepted: %d, want 1", n)
	}
	c.Close()
	if n := s.inFlight(); n != 0 {
		t.Fatalf("in flight after the close: %d, want 0", n)
	}
}
