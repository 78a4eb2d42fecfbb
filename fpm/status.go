package fpm

// This file renders the status and ping pages exactly as php-fpm 8.2 does
// (shared/PHP-FPM.md §3): the same headers in the same order, the same
// field names, order, types and escaping in text, json, xml, html and
// openmetrics. The functions are pure: the master fills a statusSnapshot,
// passes the time, and writes what comes back; nothing here reads a clock,
// a socket or the scoreboard.

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// statusSnapshot is everything a status page shows for one pool, filled by
// the master.
type statusSnapshot struct {
	Pool string // the pool name; php-fpm shows at most 31 bytes, never escaped
	PM   string // "static", "dynamic" or "ondemand"
	// StartTime is when the pool's counters started: master start or the
	// last reload (php-fpm rebuilds its scoreboard on reload).
	StartTime time.Time
	Accepted  uint64 // accepted conn: requests begun, status and ping included
	// ListenQueue is the accept queue at the last sample, MaxListenQueue
	// the largest sample since StartTime, ListenQueueLen the backlog.
	ListenQueue, MaxListenQueue, ListenQueueLen int
	// Idle and Active are the idle and active process counts. The page
	// prints "total processes" as Idle+Active, as php-fpm does (it is not
	// the number of live workers); Total is not printed and is kept for
	// callers that want the live count.
	Idle, Active, Total int
	MaxActive           int // max active processes since StartTime
	MaxChildrenReached  uint64
	SlowRequests        uint64
	// gofpm additions may only go where no scraper breaks (e.g. JSON keys
	// after php-fpm's); there are none yet.

	Procs []statusProc // the ?full section, in slot order
}

// statusProc is one worker in the ?full section.
type statusProc struct {
	PID int
	// State is php-fpm's stage name: "Idle", "Reading headers",
	// "Getting request information", "Running", "Ending", "Finishing".
	State     string
	StartTime time.Time // when the worker process started
	Requests  uint64    // requests begun by this worker
	// RequestDuration is the last request's duration when Idle, the time
	// since the current request was accepted otherwise; shown in µs.
	RequestDuration time.Duration
	RequestMethod   string // REQUEST_METHOD; "" shows "-"
	// RequestURI is php-fpm's request_uri (SCRIPT_NAME after PATH_INFO
	// handling), QueryString the QUERY_STRING; the page shows
	// uri[?query]. When QueryString is empty and RequestURI has a '?',
	// RequestURI is taken as "uri?query" and split at the first '?'.
	RequestURI    string
	QueryString   string
	ContentLength int64
	User          string // HTTP Basic-auth user; "" shows "-"
	Script        string // SCRIPT_FILENAME; "" shows "-"
	// LastRequestCPU (percent) and LastRequestMemory (bytes) describe the
	// last request; php-fpm shows them only when State is "Idle" and
	// prints 0.00 and 0 otherwise, and so does renderStatus.
	LastRequestCPU    float64
	LastRequestMemory int64
}

// The status formats, as parseStatusQuery returns them.
const (
	statusText        = "text"
	statusJSON        = "json"
	statusXML         = "xml"
	statusHTML        = "html"
	statusOpenMetrics = "openmetrics"
)

// php-fpm's scoreboard fields are fixed C buffers, so longer values are cut
// to these many bytes (and at a NUL byte) before they are shown.
const (
	statusMaxPool   = 31
	statusMaxMethod = 15
	statusMaxURI    = 127
	statusMaxQuery  = 511
	statusMaxScript = 255
	statusMaxUser   = 31
)

// statusMaxInputVars is PHP's default max_input_vars: $_GET gets at most this
// many variables; later ones are dropped.
const statusMaxInputVars = 1000

const (
	statusExpires      = "Expires: Thu, 01 Jan 1970 00:00:00 GMT"
	statusCacheControl = "Cache-Control: no-cache, no-store, must-revalidate, max-age=0"
	// PHP appends ";charset=UTF-8" to text/* types and then spells the
	// header "Content-type"; other types keep php-fpm's own spelling.
	statusTypeText        = "Content-type: text/plain;charset=UTF-8"
	statusTypeJSON        = "Content-Type: application/json"
	statusTypeXML         = "Content-type: text/xml;charset=UTF-8"
	statusTypeHTML        = "Content-type: text/html;charset=UTF-8"
	statusTypeOpenMetrics = "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"
	// statusTypePHPDefault is PHP's default header, sent when a script
	// set none (the status page's HEAD answer). Note the space after ';'.
	statusTypePHPDefault = "Content-type: text/html; charset=UTF-8"
)

// parseStatusQuery reads QUERY_STRING the way php-fpm does: PHP parses it
// into $_GET and only the presence of a key counts (?json=0 is json). The
// format is "html", "xml", "json", "openmetrics" or "text", in that order
// of precedence when several keys are present; unknown keys are ignored and
// repeated keys are the same as one. full reports the "full" key; it is
// returned even with openmetrics, where renderStatus ignores it.
//
// Keys are decoded as PHP does: split at '&', name before the first '=',
// percent- and '+'-decoded, cut at a NUL, leading spaces dropped, and
// "name[...]" counts as name (PHP makes it an array) while "name[" without
// a ']' does not. Only the first 1000 pairs count (max_input_vars).
func parseStatusQuery(q string) (format string, full bool) {
	var html, xml, json, om bool
	n := 0
	for pair := range strings.SplitSeq(q, "&") {
		if pair == "" {
			continue // PHP's strtok skips empty fields; they do not count
		}
		if n++; n > statusMaxInputVars {
			break
		}
		name, _, _ := strings.Cut(pair, "=")
		switch statusGetKey(name) {
		case "html":
			html = true
		case "xml":
			xml = true
		case "json":
			json = true
		case "openmetrics":
			om = true
		case "full":
			full = true
		}
	}
	switch {
	case html:
		format = statusHTML
	case xml:
		format = statusXML
	case json:
		format = statusJSON
	case om:
		format = statusOpenMetrics
	default:
		format = statusText
	}
	return format, full
}

// statusGetKey returns the top-level $_GET key that PHP registers for the raw
// (still encoded) variable name, or "" when PHP registers none. Names that
// PHP rewrites (' ' and '.' become '_', an unclosed '[' becomes '_') are
// returned rewritten, so they never equal a plain word like "json".
func statusGetKey(raw string) string {
	name := statusURLDecode(raw)
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimLeft(name, " ")
	base, rest, isArray := strings.Cut(name, "[")
	if base == "" {
		return ""
	}
	base = strings.NewReplacer(" ", "_", ".", "_").Replace(base)
	if isArray && !strings.Contains(rest, "]") {
		return base + "_" + rest
	}
	return base
}

// statusURLDecode decodes like PHP's urldecode: '+' is a space, "%XX" with two
// hex digits is a byte, any other '%' stays.
func statusURLDecode(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && statusIsHex(s[i+1]) && statusIsHex(s[i+2]):
			b = append(b, statusUnhex(s[i+1])<<4|statusUnhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func statusIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func statusUnhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// renderStatus returns the response header lines ("Name: value", in
// php-fpm's order, without CRLF) and the body of the status page for s in
// the given format (as from parseStatusQuery; anything else is text). The
// status is 200 and php-fpm sends no Status line.
//
// now is the time of the request: "start since" is now minus the start
// time in whole seconds, and text and html show times in now's location
// (php-fpm uses the local time zone, so pass time.Now()). full adds the
// per-process section except for openmetrics, which ignores it.
func renderStatus(s *statusSnapshot, format string, full bool, now time.Time) (header []string, body []byte) {
	var b bytes.Buffer
	var ctype string
	switch format {
	case statusJSON:
		ctype = statusTypeJSON
		statusJSONBody(&b, s, full, now)
	case statusXML:
		ctype = statusTypeXML
		statusXMLBody(&b, s, full, now)
	case statusHTML:
		ctype = statusTypeHTML
		statusHTMLBody(&b, s, full, now)
	case statusOpenMetrics:
		ctype = statusTypeOpenMetrics
		statusOpenMetricsBody(&b, s, now)
	default:
		ctype = statusTypeText
		statusTextBody(&b, s, full, now)
	}
	return []string{statusExpires, statusCacheControl, ctype}, b.Bytes()
}

// renderStatusHead returns the header lines of the status page's answer
// to HEAD (no body). php-fpm returns before choosing the format, so PHP's
// default content type goes last whatever the query.
func renderStatusHead() []string {
	return []string{statusExpires, statusCacheControl, statusTypePHPDefault}
}

// renderPing returns php-fpm's ping answer: status 200, Content-type first
// (unlike the status page), and the response with no newline. An empty
// response is "pong", gofpm's default for ping_response. For HEAD send the
// header only.
func renderPing(response string) (header []string, body []byte) {
	if response == "" {
		response = "pong"
	}
	return []string{statusTypeText, statusExpires, statusCacheControl}, []byte(statusCString(response, len(response)))
}

// statusPool holds the pool fields as php-fpm prints them.
type statusPool struct {
	name, pm string
	since    uint64
	total    int
}

func newStatusPool(s *statusSnapshot, now time.Time) statusPool {
	return statusPool{
		name:  statusCString(s.Pool, statusMaxPool),
		pm:    s.PM,
		since: statusSince(s.StartTime, now),
		total: s.Idle + s.Active,
	}
}

// statusRow holds one worker's fields as php-fpm prints them, still raw
// (unescaped): the renderer escapes the strings for its format.
type statusRow struct {
	pid                int
	state              string
	start              time.Time
	since              uint64
	requests           uint64
	duration           uint64 // µs
	method, uri, query string // cut to php-fpm's sizes; "" prints "-" (query: nothing)
	user, script       string
	contentLength      uint64
	cpu                float64
	memory             uint64
}

func newStatusRow(p *statusProc, now time.Time) statusRow {
	uri, query := p.RequestURI, p.QueryString
	if query == "" {
		uri, query, _ = strings.Cut(uri, "?")
	}
	r := statusRow{
		pid:           p.PID,
		state:         p.State,
		start:         p.StartTime.In(now.Location()),
		since:         statusSince(p.StartTime, now),
		requests:      p.Requests,
		duration:      uint64(max(p.RequestDuration.Microseconds(), 0)),
		method:        statusCString(p.RequestMethod, statusMaxMethod),
		uri:           statusCString(uri, statusMaxURI),
		query:         statusCString(query, statusMaxQuery),
		user:          statusCString(p.User, statusMaxUser),
		script:        statusCString(p.Script, statusMaxScript),
		contentLength: uint64(max(p.ContentLength, 0)),
	}
	if p.State == "Idle" {
		r.cpu = statusCPU(p.LastRequestCPU)
		r.memory = uint64(max(p.LastRequestMemory, 0))
	}
	return r
}

// statusCPU is the value php-fpm prints with %.2f: it keeps the percentage
// in a C float, so it is rounded to single precision first (98.675 prints
// as 98.68, not 98.67). NaN and infinities print as 0.00.
func statusCPU(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return float64(float32(v))
}

// statusSince is php-fpm's now_epoch - start_epoch: whole seconds of the
// wall clock, never negative here (php-fpm would print a wrapped unsigned
// value if the clock stepped back).
func statusSince(start, now time.Time) uint64 {
	return uint64(max(now.Unix()-start.Unix(), 0))
}

// statusCString is s as php-fpm's fixed C buffer keeps it: up to the first NUL
// and at most n bytes (a multi-byte character may be cut; the JSON, XML and
// HTML escapers drop the broken bytes).
func statusCString(s string, n int) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// statusOrDash is v, or "-" when v is empty.
func statusOrDash(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

// statusStrftime is php-fpm's "%d/%b/%Y:%H:%M:%S %z" (C locale).
const statusStrftime = "02/Jan/2006:15:04:05 -0700"

func statusAppendUint(b *bytes.Buffer, v uint64) {
	var a [20]byte
	b.Write(strconv.AppendUint(a[:0], v, 10))
}

func statusAppendInt(b *bytes.Buffer, v int64) {
	var a [20]byte
	b.Write(strconv.AppendInt(a[:0], v, 10))
}

func statusAppendCPU(b *bytes.Buffer, v float64) {
	var a [32]byte
	b.Write(strconv.AppendFloat(a[:0], v, 'f', 2, 64))
}

// statusLabel writes a text-format label padded to php-fpm's 22-column
// value position.
func statusLabel(b *bytes.Buffer, label string) {
	b.WriteString(label)
	b.WriteByte(':')
	for i := len(label) + 1; i < 22; i++ {
		b.WriteByte(' ')
	}
}

// statusPoolFields emits the pool section's fields, with php-fpm's labels,
// in php-fpm's order, for every format; start is the start time as the
// format writes it (a date in text and html, Unix seconds in json and
// xml), and text is set for the two string fields, which json quotes.
func statusPoolFields(s *statusSnapshot, p *statusPool, start string, emit func(label, value string, text bool)) {
	num := func(label string, v int64) { emit(label, strconv.FormatInt(v, 10), false) }
	unum := func(label string, v uint64) { emit(label, strconv.FormatUint(v, 10), false) }
	emit("pool", p.name, true)
	emit("process manager", p.pm, true)
	emit("start time", start, false)
	unum("start since", p.since)
	unum("accepted conn", s.Accepted)
	num("listen queue", int64(s.ListenQueue))
	num("max listen queue", int64(s.MaxListenQueue))
	num("listen queue len", int64(s.ListenQueueLen))
	num("idle processes", int64(s.Idle))
	num("active processes", int64(s.Active))
	num("total processes", int64(p.total))
	num("max active processes", int64(s.MaxActive))
	unum("max children reached", s.MaxChildrenReached)
	unum("slow requests", s.SlowRequests)
}

func statusTextBody(b *bytes.Buffer, s *statusSnapshot, full bool, now time.Time) {
	p := newStatusPool(s, now)
	line := func(label, v string) {
		statusLabel(b, label)
		b.WriteString(v)
		b.WriteByte('\n')
	}
	num := func(label string, v int64) { line(label, strconv.FormatInt(v, 10)) }
	unum := func(label string, v uint64) { line(label, strconv.FormatUint(v, 10)) }
	statusPoolFields(s, &p, s.StartTime.In(now.Location()).Format(statusStrftime), func(label, v string, _ bool) { line(label, v) })
	if !full {
		return
	}
	for i := range s.Procs {
		r := newStatusRow(&s.Procs[i], now)
		b.WriteString("\n************************\n")
		num("pid", int64(r.pid))
		line("state", r.state)
		line("start time", r.start.Format(statusStrftime))
		unum("start since", r.since)
		unum("requests", r.requests)
		unum("request duration", r.duration)
		line("request method", statusOrDash(r.method))
		statusLabel(b, "request URI")
		b.WriteString(statusOrDash(r.uri))
		if r.query != "" {
			b.WriteByte('?')
			b.WriteString(r.query)
		}
		b.WriteByte('\n')
		unum("content length", r.contentLength)
		line("user", statusOrDash(r.user))
		line("script", statusOrDash(r.script))
		statusLabel(b, "last request cpu")
		statusAppendCPU(b, r.cpu)
		b.WriteByte('\n')
		unum("last request memory", r.memory)
	}
}

func statusJSONBody(b *bytes.Buffer, s *statusSnapshot, full bool, now time.Time) {
	p := newStatusPool(s, now)
	// The pool name goes out raw, as in php-fpm (it comes from the config).
	b.WriteByte('{')
	statusPoolFields(s, &p, strconv.FormatInt(s.StartTime.Unix(), 10), func(label, v string, text bool) {
		if label != "pool" {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(label)
		b.WriteString(`":`)
		if text {
			b.WriteByte('"')
			b.WriteString(v)
			b.WriteByte('"')
		} else {
			b.WriteString(v)
		}
	})
	if !full {
		b.WriteByte('}')
		return
	}
	b.WriteString(`, "processes":[`) // php-fpm's space, kept
	for i := range s.Procs {
		if i > 0 {
			b.WriteByte(',')
		}
		r := newStatusRow(&s.Procs[i], now)
		b.WriteString(`{"pid":`)
		statusAppendInt(b, int64(r.pid))
		b.WriteString(`,"state":"`)
		b.WriteString(r.state)
		b.WriteString(`","start time":`)
		statusAppendInt(b, r.start.Unix())
		b.WriteString(`,"start since":`)
		statusAppendUint(b, r.since)
		b.WriteString(`,"requests":`)
		statusAppendUint(b, r.requests)
		b.WriteString(`,"request duration":`)
		statusAppendUint(b, r.duration)
		b.WriteString(`,"request method":"`)
		statusJSONEscape(b, statusOrDash(r.method))
		b.WriteString(`","request uri":"`)
		statusJSONEscape(b, statusOrDash(r.uri))
		if r.query != "" {
			b.WriteByte('?')
			statusJSONEscape(b, r.query)
		}
		b.WriteString(`","content length":`)
		statusAppendUint(b, r.contentLength)
		b.WriteString(`,"user":"`)
		statusJSONEscape(b, statusOrDash(r.user))
		b.WriteString(`","script":"`)
		statusJSONEscape(b, statusOrDash(r.script))
		b.WriteString(`","last request cpu":`)
		statusAppendCPU(b, r.cpu)
		b.WriteString(`,"last request memory":`)
		statusAppendUint(b, r.memory)
		b.WriteByte('}')
	}
	b.WriteString("]}")
}

func statusXMLBody(b *bytes.Buffer, s *statusSnapshot, full bool, now time.Time) {
	p := newStatusPool(s, now)
	elem := func(name, v string) {
		b.WriteByte('<')
		b.WriteString(name)
		b.WriteByte('>')
		b.WriteString(v)
		b.WriteString("</")
		b.WriteString(name)
		b.WriteByte('>')
	}
	num := func(name string, v int64) { elem(name, strconv.FormatInt(v, 10)) }
	unum := func(name string, v uint64) { elem(name, strconv.FormatUint(v, 10)) }
	esc := func(name, v string) {
		b.WriteByte('<')
		b.WriteString(name)
		b.WriteByte('>')
		statusHTMLEscape(b, v)
		b.WriteString("</")
		b.WriteString(name)
		b.WriteByte('>')
	}
	nl := func() { b.WriteByte('\n') }
	b.WriteString("<?xml version=\"1.0\" ?>\n<status>\n")
	statusPoolFields(s, &p, strconv.FormatInt(s.StartTime.Unix(), 10), func(label, v string, _ bool) {
		elem(strings.ReplaceAll(label, " ", "-"), v)
		nl()
	})
	if !full {
		b.WriteString("</status>")
		return
	}
	b.WriteString("<processes>\n")
	for i := range s.Procs {
		r := newStatusRow(&s.Procs[i], now)
		b.WriteString("<process>")
		num("pid", int64(r.pid))
		elem("state", r.state)
		num("start-time", r.start.Unix())
		unum("start-since", r.since)
		unum("requests", r.requests)
		unum("request-duration", r.duration)
		esc("request-method", statusOrDash(r.method))
		b.WriteString("<request-uri>")
		statusURIEscaped(b, &r)
		b.WriteString("</request-uri>")
		unum("content-length", r.contentLength)
		esc("user", statusOrDash(r.user))
		esc("script", statusOrDash(r.script))
		elem("last-request-cpu", strconv.FormatFloat(r.cpu, 'f', 2, 64))
		unum("last-request-memory", r.memory)
		b.WriteString("</process>\n")
	}
	b.WriteString("</processes>\n</status>")
}

// statusURIEscaped writes uri[?query] HTML-escaped.
func statusURIEscaped(b *bytes.Buffer, r *statusRow) {
	statusHTMLEscape(b, statusOrDash(r.uri))
	if r.query != "" {
		b.WriteByte('?')
		statusHTMLEscape(b, r.query)
	}
}

func statusHTMLBody(b *bytes.Buffer, s *statusSnapshot, full bool, now time.Time) {
	p := newStatusPool(s, now)
	row := func(label, v string) {
		b.WriteString("<tr><th>")
		b.WriteString(label)
		b.WriteString("</th><td>")
		b.WriteString(v)
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n" +
		"<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n" +
		"<head><title>PHP-FPM Status Page</title></head>\n" +
		"<body>\n" +
		"<table>\n")
	statusPoolFields(s, &p, s.StartTime.In(now.Location()).Format(statusStrftime), func(label, v string, _ bool) { row(label, v) })
	b.WriteString("</table>\n")
	if !full {
		b.WriteString("</body></html>")
		return
	}
	b.WriteString("<table border=\"1\">\n<tr>" +
		"<th>pid</th><th>state</th><th>start time</th><th>start since</th>" +
		"<th>requests</th><th>request duration</th><th>request method</th>" +
		"<th>request uri</th><th>content length</th><th>user</th><th>script</th>" +
		"<th>last request cpu</th><th>last request memory</th></tr>\n")
	td := func(v string) {
		b.WriteString("<td>")
		b.WriteString(v)
		b.WriteString("</td>")
	}
	tdEsc := func(v string) {
		b.WriteString("<td>")
		statusHTMLEscape(b, v)
		b.WriteString("</td>")
	}
	for i := range s.Procs {
		r := newStatusRow(&s.Procs[i], now)
		b.WriteString("<tr>")
		td(strconv.Itoa(r.pid))
		td(r.state)
		td(r.start.Format(statusStrftime))
		td(strconv.FormatUint(r.since, 10))
		td(strconv.FormatUint(r.requests, 10))
		td(strconv.FormatUint(r.duration, 10))
		tdEsc(statusOrDash(r.method))
		b.WriteString("<td>")
		statusURIEscaped(b, &r)
		b.WriteString("</td>")
		td(strconv.FormatUint(r.contentLength, 10))
		tdEsc(statusOrDash(r.user))
		tdEsc(statusOrDash(r.script))
		td(strconv.FormatFloat(r.cpu, 'f', 2, 64))
		td(strconv.FormatUint(r.memory, 10))
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table></body></html>")
}

func statusOpenMetricsBody(b *bytes.Buffer, s *statusSnapshot, now time.Time) {
	p := newStatusPool(s, now)
	metric := func(name, typ, help, value string) {
		b.WriteString("# HELP " + name + " " + help + "\n")
		b.WriteString("# TYPE " + name + " " + typ + "\n")
		b.WriteString(name + " " + value + "\n")
	}
	i := func(v int) string { return strconv.Itoa(v) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	metric("phpfpm_up", "gauge", "Could pool "+p.name+" using a "+p.pm+" PM on PHP-FPM be reached?", "1")
	metric("phpfpm_start_since", "counter", "The number of seconds since FPM has started.", u(p.since))
	metric("phpfpm_accepted_connections", "counter", "The number of requests accepted by the pool.", u(s.Accepted))
	metric("phpfpm_listen_queue", "gauge", "The number of requests in the queue of pending connections.", i(s.ListenQueue))
	metric("phpfpm_max_listen_queue", "counter", "The maximum number of requests in the queue of pending connections since FPM has started.", i(s.MaxListenQueue))
	// php-fpm's one irregularity: TYPE before HELP for this metric.
	b.WriteString("# TYPE phpfpm_listen_queue_length gauge\n" +
		"# HELP phpfpm_listen_queue_length The size of the socket queue of pending connections.\n" +
		"phpfpm_listen_queue_length " + i(s.ListenQueueLen) + "\n")
	metric("phpfpm_idle_processes", "gauge", "The number of idle processes.", i(s.Idle))
	metric("phpfpm_active_processes", "gauge", "The number of active processes.", i(s.Active))
	metric("phpfpm_total_processes", "gauge", "The number of idle + active processes.", i(p.total))
	metric("phpfpm_max_active_processes", "counter", "The maximum number of active processes since FPM has started.", i(s.MaxActive))
	metric("phpfpm_max_children_reached", "counter", "The number of times, the process limit has been reached, when pm tries to start more children (works only for pm 'dynamic' and 'ondemand').", u(s.MaxChildrenReached))
	metric("phpfpm_slow_requests", "counter", "The number of requests that exceeded your 'request_slowlog_timeout' value.", u(s.SlowRequests))
	b.WriteString("# EOF\n")
}

// statusJSONEscape writes s as the inside of a JSON string the way PHP's
// json_encode does with PHP_JSON_INVALID_UTF8_IGNORE and no other flag:
// '/' becomes "\/", every non-ASCII character becomes \uXXXX (a UTF-16
// surrogate pair above U+FFFF), control characters use the short escapes
// or \u00XX, hex digits are lowercase, and invalid UTF-8 bytes are dropped.
// '<', '>', '&' and the single quote stay as they are.
func statusJSONEscape(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '/':
				b.WriteString(`\/`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if c < 0x20 {
					u4(rune(c))
				} else {
					b.WriteByte(c)
				}
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			// invalid byte: dropped (PHP_JSON_INVALID_UTF8_IGNORE)
		case r >= 0x10000:
			r -= 0x10000
			u4(0xd800 + r>>10)
			u4(0xdc00 + r&0x3ff)
		default:
			u4(r)
		}
	}
}

// statusHTMLEscape writes s with php-fpm's html/xml escaping: '&', '<',
// '>' and '"' become &amp; &lt; &gt; &quot; (the single quote stays), and
// bytes that are not valid UTF-8 are dropped (PHP's ENT_HTML_IGNORE_ERRORS).
// Other characters, non-ASCII included, stay as they are.
func statusHTMLEscape(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch c {
			case '&':
				b.WriteString("&amp;")
			case '<':
				b.WriteString("&lt;")
			case '>':
				b.WriteString("&gt;")
			case '"':
				b.WriteString("&quot;")
			default:
				b.WriteByte(c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
}
