// Package connlimit caps the connections a listener has open at once:
// past the cap it stops accepting, and new clients wait in the kernel's
// listen queue until a connection closes, so clients that connect and
// stay cannot use up the master's file descriptors. The HTTP front
// (max_connections) and metrics_listen use it.
package connlimit

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Listener accepts while fewer than cap(slots) of its connections are
// open.
type Listener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{} // closed by Close: wakes an Accept waiting for a slot
	once  sync.Once
	what  string
	log   zerolog.Logger
	said  time.Time // when the cap was last logged (Accept's goroutine only)
}

// New caps ln at n open connections; what, in the warning logged (at most
// once a minute) when the cap is reached, names the setting ("http:
// max_connections").
func New(ln net.Listener, n int, what string, log zerolog.Logger) *Listener {
	return &Listener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}), what: what, log: log}
}

func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		if now := time.Now(); now.Sub(l.said) > time.Minute {
			l.said = now
			l.log.Warn().Int("max_connections", cap(l.slots)).Msgf("%s (%d) reached: new clients wait in the listen queue", l.what, cap(l.slots))
		}
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, l: l}, nil
}

func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when closed.
type limitConn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.l.slots })
	return err
}

// ReadFrom keeps sendfile for static files.
func (c *limitConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite keeps net/http's lingering close.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
