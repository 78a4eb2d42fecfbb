package dispatch

// This file is what the dispatcher answers itself, and what it reads of a
// worker's answer: the status code of its CGI header block.

import (
	"strconv"
	"strings"

	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// The dispatcher's own answers, as CGI responses.
var (
	answerDenied  = []byte("Status: 403 Forbidden\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nAccess denied.\n")
	answerTimeout = []byte("Status: 504 Gateway Timeout\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nThe request took longer than request_terminate_timeout.\n")
	answerDied    = []byte("Status: 502 Bad Gateway\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nThe worker serving the request exited.\n")
)

// aLongTimeAgo is a deadline in the past, to end a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// unavailable is the 503 answer with the configured Retry-After.
func (d *Dispatcher) unavailable() []byte {
	return []byte("Status: 503 Service Unavailable\r\nRetry-After: " + strconv.Itoa(int(d.cfg.RetryAfter/time.Second)) +
		"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nNo worker is free; try again later.\n")
}

// answer sends body as the whole answer to p: STDOUT records, the end of
// the stream and END_REQUEST, in one write.
func (cc *clientConn) answer(p *pending, body []byte) error {
	out := fcgi.AppendRecords(cc.b.out[:0], fcgi.TypeStdout, p.id, body)
	out = fcgi.AppendRecords(out, fcgi.TypeStdout, p.id, nil)
	out = fcgi.AppendEndRequest(out, p.id, 0, fcgi.StatusRequestComplete)
	if err := cc.write(out); err != nil {
		return err
	}
	if !p.complete {
		return errProtocol // the rest of the body is still to come: end the connection
	}
	return nil
}

// allowed reports whether script may run under security_limit_extensions:
// any script when exts is empty, else one whose name ends in one of them
// (php-fpm's test). A request without SCRIPT_FILENAME names no script. A
// name with a NUL byte is refused: C code (php-cgi) reads it only up to
// the NUL, so "evil.jpg\x00.php" would run evil.jpg.
func allowed(exts []string, script string) bool {
	if len(exts) == 0 || script == "" {
		return true
	}
	if strings.IndexByte(script, 0) >= 0 {
		return false
	}
	base := script[strings.LastIndexByte(script, '/')+1:]
	for _, e := range exts {
		if strings.HasSuffix(base, e) {
			return true
		}
	}
	return false
}

// statusScanner reads the status code from the header block of a CGI
// answer as it streams by: the Status: line, 302 for a Location: without
// one (CGI's local redirect), else 200. It keeps only the start of each
// line and allocates nothing.
type statusScanner struct {
	line     [16]byte
	n        int // bytes of the current line (more than kept)
	lines    int
	status   int
	location bool
	done     bool // the blank line ended the header block
}

func (s *statusScanner) scan(p []byte) {
	for _, c := range p {
		if s.done {
			return
		}
		switch c {
		case '\r':
		case '\n':
			s.endLine()
		default:
			if s.n < len(s.line) {
				s.line[s.n] = c
			}
			s.n++
		}
	}
}

func (s *statusScanner) endLine() {
	if s.n == 0 {
		s.done = true
		return
	}
	l := s.line[:min(s.n, len(s.line))]
	s.n = 0
	s.lines++
	switch {
	case hasPrefixFold(l, "status:"):
		v := strings.TrimLeft(string(l[len("status:"):]), " \t")
		if len(v) >= 3 {
			if code, err := strconv.Atoi(v[:3]); err == nil {
				s.status = code
			}
		}
	case hasPrefixFold(l, "location:"):
		s.location = true
	}
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// code is the answer's status code.
func (s *statusScanner) code() int {
	switch {
	case s.status != 0:
		return s.status
	case s.location:
		return 302
	}
	return 200
}
