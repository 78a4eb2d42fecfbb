package worker

// This file lets a Go worker answer the pool's status and ping pages on the
// pool's own socket, as php-fpm workers do: the worker passes such a
// request to its master over a private connection and copies the answer.
// The master knows every worker of the pool; a single worker does not.

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/worker/proto"
)

// pageRelay passes status and ping requests to the master.
type pageRelay struct {
	status, ping string
	mu           sync.Mutex // one request at a time on the single connection
	client       *fcgi.Client
}

// attachPages takes the master's page connection from proto.PagesFD; nil when the
// master gave none.
func attachPages() *pageRelay {
	if os.Getenv(proto.EnvPagesFD) == "" {
		return nil
	}
	f := os.NewFile(proto.PagesFD, "gofpm-pages")
	c, err := net.FileConn(f)
	f.Close()
	os.Unsetenv(proto.EnvPagesFD)
	if err != nil {
		return nil
	}
	conn := &keptConn{Conn: c}
	return &pageRelay{
		status: os.Getenv(proto.EnvStatusPath),
		ping:   os.Getenv(proto.EnvPingPath),
		client: &fcgi.Client{
			Dial:         func(context.Context) (net.Conn, error) { return conn, nil },
			MaxIdleConns: 1, // FCGI_KEEP_CONN: the one connection serves every request
		},
	}
}

// keptConn is the master's connection as the client sees it: closing it
// does nothing, since there is no other to dial.
type keptConn struct{ net.Conn }

func (keptConn) Close() error { return nil }

// match reports whether r asks for one of the master's pages. net/http/fcgi
// does not keep SCRIPT_NAME (php-fpm's key), so the request path is used.
func (p *pageRelay) match(r *http.Request) bool {
	if p == nil || r.URL == nil {
		return false
	}
	path := r.URL.Path
	return (p.status != "" && path == p.status) || (p.ping != "" && path == p.ping)
}

// relayMaxURI bounds the request URI a worker passes on to the master: the
// master refuses page requests whose params exceed 64 KiB and closes the
// connection, which would leave this worker without its only one. The
// pages take a short query string (?full&json).
const relayMaxURI = 8 << 10

func (p *pageRelay) serve(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RequestURI()) > relayMaxURI {
		http.Error(w, "URI too long for the status page", http.StatusRequestURITooLong)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Not cancelled when the web server hangs up: a request left half-way
	// would leave the connection to the master out of step.
	resp, err := p.client.Do(context.WithoutCancel(r.Context()), &fcgi.Request{Params: map[string]string{
		"REQUEST_METHOD": r.Method, "SCRIPT_NAME": r.URL.Path, "SCRIPT_FILENAME": r.URL.Path,
		"REQUEST_URI": r.URL.RequestURI(), "QUERY_STRING": r.URL.RawQuery,
	}})
	if err != nil {
		http.Error(w, "status page unavailable: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// The master's pages are byte for byte php-fpm's, which sends no Date
// header; net/http/fcgi adds one to every answer whatever the handler
// does (it sets Date when the header has none). So the filter takes it out
// of the header block of a page's answer, on the way to the web server.

// dropDate marks request id as a page whose answer loses its Date header.
func (c *conn) dropDate(id uint16) {
	c.dmu.Lock()
	c.noDate = append(c.noDate, id)
	c.dmu.Unlock()
}

// keepDate forgets the mark of request id (its answer has ended).
func (c *conn) keepDate(id uint16) {
	c.dmu.Lock()
	if i := slices.Index(c.noDate, id); i >= 0 {
		c.noDate = slices.Delete(c.noDate, i, i+1)
	}
	c.dmu.Unlock()
}

// stripDate returns the STDOUT record p without the Date line of its
// header block when p is the first STDOUT record of a marked request
// (net/http/fcgi writes the header and the start of the body as one).
func (c *conn) stripDate(p []byte) ([]byte, bool) {
	h, err := fcgi.ParseHeader(p)
	if err != nil || h.Type != fcgi.TypeStdout || h.ContentLength == 0 || len(p) < fcgi.HeaderSize+h.ContentLength {
		return nil, false
	}
	c.dmu.Lock()
	marked := slices.Contains(c.noDate, h.RequestID)
	c.dmu.Unlock()
	if !marked {
		return nil, false
	}
	c.keepDate(h.RequestID)
	content := p[fcgi.HeaderSize : fcgi.HeaderSize+h.ContentLength]
	end := bytes.Index(content, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, false
	}
	head := content[:end+2] // each line with its CRLF
	start := bytes.Index(head, []byte("\r\nDate: "))
	if start < 0 {
		return nil, false
	}
	start += 2
	stop := start + bytes.Index(head[start:], []byte("\r\n")) + 2
	out := make([]byte, 0, len(content)-(stop-start))
	out = append(append(out, content[:start]...), content[stop:]...)
	return fcgi.AppendRecords(nil, fcgi.TypeStdout, h.RequestID, out), true
}
