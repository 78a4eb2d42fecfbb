package front

// This file caps the client connections open at once (max_connections):
// past the cap the front stops accepting, and new clients wait in the
// listen queue until a connection closes.

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// limitListener accepts while fewer than cap(slots) of its connections
// are open.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{} // closed by Close: wakes an Accept waiting for a slot
	once  sync.Once
	log   zerolog.Logger
	said  time.Time // when the cap was last logged (Accept's goroutine only)
}

func newLimitListener(ln net.Listener, n int, log zerolog.Logger) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}), log: log}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		if now := time.Now(); now.Sub(l.said) > time.Minute {
			l.said = now
			l.log.Warn().Int("max_connections", cap(l.slots)).Msgf("http: max_connections (%d) reached: new clients wait in the listen queue", cap(l.slots))
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

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when closed.
type limitConn struct {
	net.Conn
	l    *limitListener
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
