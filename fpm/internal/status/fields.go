package status

// This file turns a snapshot into the fields php-fpm prints, cut and
// rounded as php-fpm's C structures keep them, shared by every format.

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
)

// php-fpm's scoreboard fields are fixed C buffers, so longer values are cut
// to these many bytes (and at a NUL byte) before they are shown.
const (
	maxPool   = 31
	maxMethod = 15
	maxURI    = 127
	maxQuery  = 511
	maxScript = 255
	maxUser   = 31
)

// poolView holds the pool fields as php-fpm prints them.
type poolView struct {
	name, pm string
	since    uint64
	total    int
}

func newPoolView(s *Snapshot, now time.Time) poolView {
	return poolView{
		name:  cString(s.Pool, maxPool),
		pm:    s.PM,
		since: sinceEpoch(s.StartTime, now),
		total: s.Idle + s.Active,
	}
}

// procRow holds one worker's fields as php-fpm prints them, still raw
// (unescaped): the renderer escapes the strings for its format.
type procRow struct {
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

func newProcRow(p *Proc, now time.Time) procRow {
	uri, query := p.RequestURI, p.QueryString
	if query == "" {
		uri, query, _ = strings.Cut(uri, "?")
	}
	r := procRow{
		pid:           p.PID,
		state:         p.State,
		start:         p.StartTime.In(now.Location()),
		since:         sinceEpoch(p.StartTime, now),
		requests:      p.Requests,
		duration:      uint64(max(p.RequestDuration.Microseconds(), 0)),
		method:        cString(p.RequestMethod, maxMethod),
		uri:           cString(uri, maxURI),
		query:         cString(query, maxQuery),
		user:          cString(p.User, maxUser),
		script:        cString(p.Script, maxScript),
		contentLength: uint64(max(p.ContentLength, 0)),
	}
	if p.State == "Idle" {
		r.cpu = cpuValue(p.LastRequestCPU)
		r.memory = uint64(max(p.LastRequestMemory, 0))
	}
	return r
}

// cpuValue is the value php-fpm prints with %.2f: it keeps the percentage
// in a C float, so it is rounded to single precision first (98.675 prints
// as 98.68, not 98.67). NaN and infinities print as 0.00.
func cpuValue(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return float64(float32(v))
}

// sinceEpoch is php-fpm's now_epoch - start_epoch: whole seconds of the
// wall clock, never negative here (php-fpm would print a wrapped unsigned
// value if the clock stepped back).
func sinceEpoch(start, now time.Time) uint64 {
	return uint64(max(now.Unix()-start.Unix(), 0))
}

// cString is s as php-fpm's fixed C buffer keeps it: up to the first NUL
// and at most n bytes (a multi-byte character may be cut; the JSON, XML and
// HTML escapers drop the broken bytes).
func cString(s string, n int) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// orDash is v, or "-" when v is empty.
func orDash(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

// strftime is php-fpm's "%d/%b/%Y:%H:%M:%S %z" (C locale).
const strftime = "02/Jan/2006:15:04:05 -0700"

func appendUint(b *bytes.Buffer, v uint64) {
	var a [20]byte
	b.Write(strconv.AppendUint(a[:0], v, 10))
}

func appendInt(b *bytes.Buffer, v int64) {
	var a [20]byte
	b.Write(strconv.AppendInt(a[:0], v, 10))
}

func appendCPU(b *bytes.Buffer, v float64) {
	var a [32]byte
	b.Write(strconv.AppendFloat(a[:0], v, 'f', 2, 64))
}

// poolFields emits the pool section's fields, with php-fpm's labels,
// in php-fpm's order, for every format; start is the start time as the
// format writes it (a date in text and html, Unix seconds in json and
// xml), and text is set for the two string fields, which json quotes.
func poolFields(s *Snapshot, p *poolView, start string, emit func(label, value string, text bool)) {
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
