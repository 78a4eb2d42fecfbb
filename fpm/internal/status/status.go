// Package status renders the master's own pages: php-fpm's status and ping
// pages byte for byte as php-fpm 8.2 writes them (shared/PHP-FPM.md §3) —
// the same headers in the same order, the same field names, order, types
// and escaping in text, json, xml, html and openmetrics — plus gofpm's
// Prometheus metrics and the live dashboard of the HTTP front.
//
// The renderers are pure: the master fills a Snapshot, passes the time,
// and writes what comes back; nothing here reads a clock, a socket or the
// scoreboard.
package status

// This file holds the snapshot the pages are rendered from and the entry
// points of the status and ping pages.

import (
	"bytes"
	"time"
)

// Snapshot is everything a status page shows for one pool, filled by
// the master.
type Snapshot struct {
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

	Procs []Proc // the ?full section, in slot order
}

// Proc is one worker in the ?full section.
type Proc struct {
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
	// prints 0.00 and 0 otherwise, and so does Render.
	LastRequestCPU    float64
	LastRequestMemory int64
}

// The status formats, as ParseQuery returns them.
const (
	Text        = "text"
	JSON        = "json"
	XML         = "xml"
	HTML        = "html"
	OpenMetrics = "openmetrics"
)

const (
	hdrExpires      = "Expires: Thu, 01 Jan 1970 00:00:00 GMT"
	hdrCacheControl = "Cache-Control: no-cache, no-store, must-revalidate, max-age=0"
	// PHP appends ";charset=UTF-8" to text/* types and then spells the
	// header "Content-type"; other types keep php-fpm's own spelling.
	typeText        = "Content-type: text/plain;charset=UTF-8"
	typeJSON        = "Content-Type: application/json"
	typeXML         = "Content-type: text/xml;charset=UTF-8"
	typeHTML        = "Content-type: text/html;charset=UTF-8"
	typeOpenMetrics = "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"
	// typePHPDefault is PHP's default header, sent when a script
	// set none (the status page's HEAD answer). Note the space after ';'.
	typePHPDefault = "Content-type: text/html; charset=UTF-8"
)

// Render returns the response header lines ("Name: value", in
// php-fpm's order, without CRLF) and the body of the status page for s in
// the given format (as from ParseQuery; anything else is text). The
// status is 200 and php-fpm sends no Status line.
//
// now is the time of the request: "start since" is now minus the start
// time in whole seconds, and text and html show times in now's location
// (php-fpm uses the local time zone, so pass time.Now()). full adds the
// per-process section except for openmetrics, which ignores it.
func Render(s *Snapshot, format string, full bool, now time.Time) (header []string, body []byte) {
	var b bytes.Buffer
	var ctype string
	switch format {
	case JSON:
		ctype = typeJSON
		jsonBody(&b, s, full, now)
	case XML:
		ctype = typeXML
		xmlBody(&b, s, full, now)
	case HTML:
		ctype = typeHTML
		htmlBody(&b, s, full, now)
	case OpenMetrics:
		ctype = typeOpenMetrics
		openMetricsBody(&b, s, now)
	default:
		ctype = typeText
		textBody(&b, s, full, now)
	}
	return []string{hdrExpires, hdrCacheControl, ctype}, b.Bytes()
}

// RenderHead returns the header lines of the status page's answer
// to HEAD (no body). php-fpm returns before choosing the format, so PHP's
// default content type goes last whatever the query.
func RenderHead() []string {
	return []string{hdrExpires, hdrCacheControl, typePHPDefault}
}

// RenderPing returns php-fpm's ping answer: status 200, Content-type first
// (unlike the status page), and the response with no newline. An empty
// response is "pong", gofpm's default for ping_response. For HEAD send the
// header only.
func RenderPing(response string) (header []string, body []byte) {
	if response == "" {
		response = "pong"
	}
	return []string{typeText, hdrExpires, hdrCacheControl}, []byte(cString(response, len(response)))
}
