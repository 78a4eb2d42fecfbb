package fcgi

// This file is the client: addresses, dialing, the idle-connection pool, and
// Do, which sends one request and returns the response once its CGI header
// block has arrived.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// defaultMaxBufferedBody is the default of Client.MaxBufferedBody.
const defaultMaxBufferedBody = 16 << 20

// inlineBody is the largest request body sent together with the params, in
// the same write and without a goroutine, when it is already in memory (see
// inMemory). Other bodies are streamed by a goroutine while Do reads the
// response: bytes go out as they arrive, and an application that answers
// before it has read its input cannot deadlock against us.
const inlineBody = MaxContentSize

// inMemory reports whether body is a reader over bytes already in memory
// (bytes.Reader, strings.Reader, bytes.Buffer, ...), which cannot block.
func inMemory(body io.Reader) bool {
	_, ok := body.(interface{ Len() int })
	return ok
}

// ParseAddress turns an address as written in a configuration file into a
// network and an address for net.Dial:
//
//	"unix:/run/php.sock", "unix:rel.sock"  -> "unix", the path
//	"/run/php.sock" (absolute path)        -> "unix", the path
//	"127.0.0.1:9000", "[::1]:9000"         -> "tcp", the host and port
//	"localhost:9000"                       -> "tcp", as given
//	"9000", "*:9000", ":9000"              -> "tcp", "127.0.0.1:9000" (php-fpm's
//	                                          listen-on-all forms, dialed locally)
func ParseAddress(s string) (network, address string, err error) {
	switch {
	case s == "":
		return "", "", errors.New("fcgi: empty address")
	case strings.HasPrefix(s, "unix:"):
		if len(s) == len("unix:") {
			return "", "", fmt.Errorf("fcgi: invalid address %q: empty socket path", s)
		}
		return "unix", s[len("unix:"):], nil
	case s[0] == '/':
		return "unix", s, nil
	}
	host, port := "", s
	if strings.ContainsRune(s, ':') {
		host, port, err = net.SplitHostPort(s)
		if err != nil {
			return "", "", fmt.Errorf("fcgi: invalid address %q: %w", s, err)
		}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return "", "", fmt.Errorf("fcgi: invalid address %q: port must be a number from 1 to 65535", s)
	}
	if host == "" || host == "*" {
		host = "127.0.0.1"
	}
	return "tcp", net.JoinHostPort(host, port), nil
}

// Client sends requests to one FastCGI application in the responder role,
// one request per connection at a time (no multiplexing: php-fpm, libfcgi and
// the Go standard library serve one request per connection anyway).
//
// The zero value is not usable: set Network and Address, or Address alone
// to let ParseAddress pick the network. A Client is safe for concurrent use
// and must not be copied after first use.
type Client struct {
	Network string // "unix" or "tcp"; empty: ParseAddress(Address)
	Address string // socket path or host:port

	// DialTimeout bounds connecting; the context of Do still applies.
	// Zero means no timeout of its own.
	DialTimeout time.Duration

	// MaxIdleConns > 0 sends FCGI_KEEP_CONN and keeps up to that many idle
	// connections for reuse. Note that php-fpm counts a worker waiting on a
	// kept connection as active: each idle connection pins one worker.
	MaxIdleConns int

	// MaxBufferedBody bounds a request body of unknown length (ContentLength
	// -1), which Do reads into memory to learn CONTENT_LENGTH. Zero means
	// 16 MiB. Longer bodies fail with ErrBodyTooLarge.
	MaxBufferedBody int64

	// Dial, when set, makes the connections instead of net.Dialer (Network,
	// Address and DialTimeout are then unused): for a connection the caller
	// already has, such as one end of a socketpair.
	Dial func(ctx context.Context) (net.Conn, error)

	mu   sync.Mutex
	idle []*conn // most recently used last

	uaddr atomic.Pointer[net.UnixAddr] // see unixAddr
}

// Request is one responder request.
type Request struct {
	// Params are the CGI variables (see EnvFromRequest). Do sets
	// CONTENT_LENGTH itself, from the body it actually sends; the map is not
	// modified.
	Params map[string]string

	// Pairs, when not nil, are the CGI variables already encoded as
	// name-value pairs (AppendEnv), sent in place of Params; they must not
	// hold CONTENT_LENGTH, which Do sends. For a caller that builds the
	// variables of each request without a map.
	Pairs []byte

	// HeaderTimeout, when set, is the time the application has to send
	// the response header, counted from the last byte of the request
	// written to it (each piece of a streamed body pushes it back), as
	// nginx's fastcgi_read_timeout counts. Past it Do sends
	// FCGI_ABORT_REQUEST, closes the connection and returns
	// ErrHeaderTimeout. It is a deadline on the connection: no timer of its
	// own.
	HeaderTimeout time.Duration

	// Body is the request body; nil means none.
	Body io.Reader

	// ContentLength is the length of Body. With a length >= 0, exactly that
	// many bytes are streamed from Body (fewer is an error). -1 means
	// unknown: Do reads Body into memory first, up to
	// Client.MaxBufferedBody, because it must send CONTENT_LENGTH: without it
	// php-fpm waits for input that never comes, or ignores the body.
	ContentLength int64
}

// Do sends req and returns the response as soon as its CGI header block has
// arrived; the body then streams from the connection as the application
// writes it. The caller must close Response.Body.
//
// ctx covers the whole exchange, reading the body included: its deadline is
// set on the connection, and when it is done Do sends FCGI_ABORT_REQUEST if
// it can and closes the connection, so that a blocked Do or Body.Read returns
// ctx.Err().
//
// Do returns ErrOverloaded, ErrCantMultiplex or ErrUnknownRole when the
// application refuses the request, an error wrapping ErrIncomplete when the
// connection ends before the header block (the worker died), and an error
// wrapping ErrProtocol for malformed responses. A response with a Status
// header of 500 is not an error.
//
// The request body is streamed by a goroutine while the response is read,
// except a body of at most 64 KiB that is already in memory (it has a Len
// method, like bytes.Reader), which goes out with the params in one write.
// If the response ends first, the connection is closed and that goroutine
// may still be inside a Read of req.Body for a short while.
//
// A reused idle connection that turns out to be closed by the application
// before it sent anything is replaced by a new one once, if the request has
// no body.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	body, n, err := c.requestBody(req)
	if err != nil {
		return nil, err
	}
	for retry := true; ; retry = false {
		cn, err := c.getConn(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.roundTrip(ctx, cn, req, body, n)
		if err != nil && retry && cn.reused && !cn.got && n == 0 && ctx.Err() == nil && !errors.Is(err, ErrHeaderTimeout) {
			continue
		}
		return resp, err
	}
}

// requestBody returns the body to send and its exact length.
func (c *Client) requestBody(req *Request) (io.Reader, int64, error) {
	if req.Body == nil {
		if req.ContentLength > 0 {
			return nil, 0, fmt.Errorf("fcgi: ContentLength %d with a nil Body", req.ContentLength)
		}
		return nil, 0, nil
	}
	if req.ContentLength >= 0 {
		return req.Body, req.ContentLength, nil
	}
	limit := c.MaxBufferedBody
	if limit <= 0 {
		limit = defaultMaxBufferedBody
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("fcgi: reading request body: %w", err)
	}
	if n > limit {
		return nil, 0, ErrBodyTooLarge
	}
	return bytes.NewReader(buf.Bytes()), n, nil
}

// roundTrip runs one exchange on cn and either hands cn to the response body
// or closes it.
func (c *Client) roundTrip(ctx context.Context, cn *conn, req *Request, body io.Reader, n int64) (*Response, error) {
	cn.begin(ctx, req.HeaderTimeout)
	bp := getBuf()
	b := AppendBeginRequest((*bp)[:0], reqID, RoleResponder, cn.keep)
	b = appendParams(b, req.Params, req.Pairs, n)
	inline := n == 0 || n <= inlineBody && inMemory(body)
	if inline {
		var err error
		if b, err = appendInlineStdin(b, body, int(n)); err != nil {
			*bp = b
			putBuf(bp)
			cn.abandon()
			return nil, err
		}
	}
	err := cn.write(b)
	*bp = b
	putBuf(bp)
	if err != nil {
		cn.abandon()
		if ctxErr := contextErr(ctx, err); ctxErr != nil {
			return nil, ctxErr
		}
		if req.HeaderTimeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, ErrHeaderTimeout // the application read nothing within it
		}
		return nil, fmt.Errorf("fcgi: writing request: %w", err)
	}
	if !inline {
		cn.wdone = make(chan struct{})
		go cn.writeStdin(body, n)
	}
	x := &exchange{}
	status, hdr, err := readResponseHeader(cn.hr, x.strs[:])
	cn.headerCame()
	if err != nil {
		if errors.Is(err, ErrHeaderTimeout) {
			cn.abort() // as nginx, the application is told
		}
		cn.abandon()
		return nil, err
	}
	x.body.cn = cn
	x.body.stderr = cn.stderr
	x.resp = Response{StatusCode: status, Header: hdr, Body: &x.body, body: &x.body}
	return &x.resp, nil
}

// appendParams appends the PARAMS stream: pairs, or else params without
// CONTENT_LENGTH, then CONTENT_LENGTH for a body of n bytes, then the
// empty record.
func appendParams(b []byte, params map[string]string, pairs []byte, n int64) []byte {
	start := len(b)
	b = append(b, zeros[:HeaderSize]...) // header, filled in below
	if pairs != nil {
		b = append(b, pairs...)
	} else {
		for k, v := range params {
			if k != "CONTENT_LENGTH" {
				b = AppendPair(b, k, v)
			}
		}
	}
	// nginx sends an empty CONTENT_LENGTH when there is no body; keep an
	// explicit "0" if the caller chose it.
	var num [20]byte
	var cl []byte
	if n > 0 {
		cl = strconv.AppendInt(num[:0], n, 10)
	} else if params["CONTENT_LENGTH"] == "0" {
		cl = append(num[:0], '0')
	}
	b = appendSize(b, len("CONTENT_LENGTH"))
	b = appendSize(b, len(cl))
	b = append(b, "CONTENT_LENGTH"...)
	b = append(b, cl...)

	size := len(b) - start - HeaderSize
	if size <= MaxContentSize {
		pad := padding(size)
		putHeader(b[start:], TypeParams, reqID, size, pad)
		b = append(b, zeros[:pad]...)
	} else {
		pairs := bytes.Clone(b[start+HeaderSize:])
		b = AppendRecords(b[:start], TypeParams, reqID, pairs)
	}
	return appendHeader(b, TypeParams, reqID, 0, 0)
}

// appendInlineStdin appends a body of n <= MaxContentSize bytes read from body
// as one STDIN record, then the empty STDIN record.
func appendInlineStdin(b []byte, body io.Reader, n int) ([]byte, error) {
	if n > 0 {
		start := len(b)
		pad := padding(n)
		b = append(b, zeros[:HeaderSize]...)
		if cap(b)-len(b) < n+pad {
			nb := make([]byte, len(b), len(b)+n+pad+HeaderSize)
			copy(nb, b)
			b = nb
		}
		if _, err := io.ReadFull(body, b[len(b):len(b)+n]); err != nil {
			return b[:start], bodyErr(err)
		}
		b = b[:len(b)+n]
		putHeader(b[start:], TypeStdin, reqID, n, pad)
		b = append(b, zeros[:pad]...)
	}
	return appendHeader(b, TypeStdin, reqID, 0, 0), nil
}

// bodyErr wraps an error from reading the request body.
func bodyErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("fcgi: request body shorter than ContentLength: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("fcgi: reading request body: %w", err)
}

// getConn returns an idle connection that still looks alive, or dials.
func (c *Client) getConn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		var cn *conn
		if k := len(c.idle); k > 0 {
			cn = c.idle[k-1]
			c.idle[k-1] = nil
			c.idle = c.idle[:k-1]
		}
		c.mu.Unlock()
		if cn == nil {
			break
		}
		if cn.live.alive() {
			cn.reused = true
			return cn, nil
		}
		cn.nc.Close()
		cn.releaseBuffers()
	}
	nc, err := c.dialContext(ctx)
	if err != nil {
		if ctxErr := contextErr(ctx, err); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("fcgi: %w", err)
	}
	return newConn(c, nc, c.MaxIdleConns > 0), nil
}

// dialContext opens a new transport connection.
func (c *Client) dialContext(ctx context.Context) (net.Conn, error) {
	if c.Dial != nil {
		return c.Dial(ctx)
	}
	network, address := c.Network, c.Address
	if network == "" {
		var err error
		if network, address, err = ParseAddress(address); err != nil {
			return nil, err
		}
	}
	if network == "unix" {
		return dialUnix(ctx, c.unixAddr(address)) // never waits: DialTimeout has nothing to bound
	}
	d := net.Dialer{Timeout: c.DialTimeout}
	return d.DialContext(ctx, network, address)
}

// unixAddr returns the address of the socket at path, made once and
// shared by the connections' errors and RemoteAddr.
func (c *Client) unixAddr(path string) *net.UnixAddr {
	if a := c.uaddr.Load(); a != nil && a.Name == path {
		return a
	}
	a := &net.UnixAddr{Name: path, Net: "unix"}
	c.uaddr.Store(a)
	return a
}

// putIdle keeps cn for reuse, or closes it when the pool is full.
func (c *Client) putIdle(cn *conn) {
	c.mu.Lock()
	if len(c.idle) < c.MaxIdleConns {
		c.idle = append(c.idle, cn)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	cn.nc.Close()
	cn.releaseBuffers()
}

// CloseIdleConnections closes the connections kept for reuse. Connections in
// use are not affected: they still return to the pool when they finish.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cn := range idle {
		cn.nc.Close()
		cn.releaseBuffers()
	}
}

// exchange puts a Response, its body and the backing array of its
// single-valued headers in one allocation.
type exchange struct {
	resp Response
	body body
	strs [8]string
}
