package fcgi

// This file is the response: the CGI header block parsed from the start of
// STDOUT, and the body that streams the rest and owns the connection.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// maxHeaderBytes bounds the CGI header block, like http.DefaultMaxHeaderBytes.
const maxHeaderBytes = 1 << 20

// Response is the answer to one request.
type Response struct {
	// StatusCode comes from the CGI "Status:" header; without one it is 302
	// when there is a Location header and 200 otherwise.
	StatusCode int

	// Header is the CGI header block, without Status, keys canonicalized.
	Header http.Header

	// Body streams the STDOUT bytes after the header block as they arrive.
	// Read returns io.EOF only after END_REQUEST; a connection that ends
	// before (the worker died) gives an error wrapping ErrIncomplete, so a
	// truncated body never looks complete. Close returns the connection to
	// the idle pool if the request finished cleanly, else closes it; it is
	// idempotent and may be called concurrently with Read to abort it.
	Body io.ReadCloser

	body *body
}

// Stderr returns what the application wrote to FCGI_STDERR so far (at most
// 64 KiB); it is complete once Body has returned io.EOF.
func (r *Response) Stderr() []byte {
	if r.body == nil {
		return nil
	}
	r.body.mu.Lock()
	defer r.body.mu.Unlock()
	return r.body.stderr
}

// AppStatus returns the appStatus of END_REQUEST (the CGI exit status, 0 for
// php-fpm even after a fatal error); it is valid once Body has returned
// io.EOF.
func (r *Response) AppStatus() int {
	if r.body == nil {
		return 0
	}
	r.body.mu.Lock()
	defer r.body.mu.Unlock()
	return r.body.appStatus
}

// errBodyClosed is returned by Read after Close.
var errBodyClosed = errors.New("fcgi: read on closed response body")

// body is Response.Body. mu guards the fields below, not the reading itself:
// Read releases it while it waits on the connection so that Close can cut in.
type body struct {
	mu        sync.Mutex
	cn        *conn
	closed    bool
	eof       bool
	stderr    []byte
	appStatus int
}

var _ io.ReadCloser = (*body)(nil)

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return 0, errBodyClosed
	case b.eof:
		b.mu.Unlock()
		return 0, io.EOF
	}
	cn := b.cn
	b.mu.Unlock()

	n, err := cn.hr.Read(p)

	b.mu.Lock()
	// Only indexes beyond len(b.stderr) are ever written by later appends.
	b.stderr = cn.stderr
	if err == io.EOF {
		b.eof = true
		b.appStatus = int(cn.appStatus)
	}
	b.mu.Unlock()
	return n, err
}

// Buffered reports how many bytes of the response have arrived and are not
// read yet (body bytes, or records such as END_REQUEST). When it is 0 the
// next Read may wait for the application, so a proxy copying the body
// flushes its client then, and only then: a short response goes out in one
// piece, a stream (server-sent events) goes out as it is produced. It must
// be called from the goroutine that calls Read.
func (b *body) Buffered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.eof {
		return 0
	}
	// Padding still to skip is not response data.
	return b.cn.hr.Buffered() + max(b.cn.br.Buffered()-b.cn.pad, 0)
}

// Close releases the connection: back to the idle pool after a clean end
// (the body was read to io.EOF), closed otherwise.
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.cn.finish(b.eof)
	return nil
}

// readResponseHeader reads the CGI header block from the STDOUT stream.
// The values of the first len(strs) keys are stored in strs, as textproto
// does, to avoid an allocation per header.
func readResponseHeader(r *bufio.Reader, strs []string) (int, http.Header, error) {
	h := make(http.Header, 8)
	status := 0
	budget := maxHeaderBytes
	var long []byte
	for {
		line, err := readLine(r, &long, &budget)
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: response ended inside the CGI header block", ErrProtocol)
			}
			return 0, nil, err
		}
		if len(line) == 0 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 || !validKey(line[:i]) {
			return 0, nil, fmt.Errorf("%w: malformed CGI header line %q", ErrProtocol, truncate(line))
		}
		key := canonicalKey(line[:i])
		value := string(bytes.Trim(line[i+1:], " \t"))
		if key == "Status" {
			if status, err = parseStatus(value); err != nil {
				return 0, nil, err
			}
			continue
		}
		if vv := h[key]; vv != nil || len(strs) == 0 {
			h[key] = append(vv, value)
		} else {
			strs[0] = value
			h[key] = strs[:1:1]
			strs = strs[1:]
		}
	}
	if status == 0 {
		status = http.StatusOK
		if _, ok := h["Location"]; ok {
			status = http.StatusFound
		}
	}
	return status, h, nil
}

// readLine returns one header line without its line ending, spending budget.
// Lines longer than r's buffer are assembled in *long.
func readLine(r *bufio.Reader, long *[]byte, budget *int) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	*budget -= len(line)
	if err == bufio.ErrBufferFull {
		buf := append((*long)[:0], line...)
		for err == bufio.ErrBufferFull && *budget >= 0 {
			line, err = r.ReadSlice('\n')
			*budget -= len(line)
			buf = append(buf, line...)
		}
		*long = buf
		line = buf
	}
	if *budget < 0 {
		return nil, fmt.Errorf("%w: CGI header block larger than %d bytes", ErrProtocol, maxHeaderBytes)
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatus parses a CGI Status value, "404" or "404 Not Found".
func parseStatus(v string) (int, error) {
	if len(v) < 3 || (len(v) > 3 && v[3] != ' ') ||
		v[0] < '1' || v[0] > '9' || v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9' {
		return 0, fmt.Errorf("%w: invalid CGI Status %q", ErrProtocol, truncate([]byte(v)))
	}
	return int(v[0]-'0')*100 + int(v[1]-'0')*10 + int(v[2]-'0'), nil
}

// validKey reports whether k is an HTTP token (RFC 9110 section 5.6.2).
func validKey(k []byte) bool {
	for _, c := range k {
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// canonicalKey canonicalizes k in place ("content-type" -> "Content-Type")
// and returns it as a string, without allocating for common CGI headers.
func canonicalKey(k []byte) string {
	upper := true
	for i, c := range k {
		switch {
		case upper && 'a' <= c && c <= 'z':
			k[i] = c - ('a' - 'A')
		case !upper && 'A' <= c && c <= 'Z':
			k[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	switch string(k) {
	case "Status":
		return "Status"
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "Location":
		return "Location"
	case "Set-Cookie":
		return "Set-Cookie"
	case "X-Powered-By":
		return "X-Powered-By"
	case "Cache-Control":
		return "Cache-Control"
	case "Expires":
		return "Expires"
	case "Pragma":
		return "Pragma"
	case "Last-Modified":
		return "Last-Modified"
	case "Etag":
		return "Etag"
	case "Vary":
		return "Vary"
	}
	return string(k)
}

// truncate shortens peer bytes quoted in an error message.
func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
