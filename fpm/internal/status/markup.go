package status

// This file writes the status page's markup formats, xml and html.

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

func xmlBody(b *bytes.Buffer, s *Snapshot, full bool, now time.Time) {
	p := newPoolView(s, now)
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
		htmlEscape(b, v)
		b.WriteString("</")
		b.WriteString(name)
		b.WriteByte('>')
	}
	nl := func() { b.WriteByte('\n') }
	b.WriteString("<?xml version=\"1.0\" ?>\n<status>\n")
	poolFields(s, &p, strconv.FormatInt(s.StartTime.Unix(), 10), func(label, v string, _ bool) {
		elem(strings.ReplaceAll(label, " ", "-"), v)
		nl()
	})
	if !full {
		b.WriteString("</status>")
		return
	}
	b.WriteString("<processes>\n")
	for i := range s.Procs {
		r := newProcRow(&s.Procs[i], now)
		b.WriteString("<process>")
		num("pid", int64(r.pid))
		elem("state", r.state)
		num("start-time", r.start.Unix())
		unum("start-since", r.since)
		unum("requests", r.requests)
		unum("request-duration", r.duration)
		esc("request-method", orDash(r.method))
		b.WriteString("<request-uri>")
		uriEscaped(b, &r)
		b.WriteString("</request-uri>")
		unum("content-length", r.contentLength)
		esc("user", orDash(r.user))
		esc("script", orDash(r.script))
		elem("last-request-cpu", strconv.FormatFloat(r.cpu, 'f', 2, 64))
		unum("last-request-memory", r.memory)
		b.WriteString("</process>\n")
	}
	b.WriteString("</processes>\n</status>")
}

func htmlBody(b *bytes.Buffer, s *Snapshot, full bool, now time.Time) {
	p := newPoolView(s, now)
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
	poolFields(s, &p, s.StartTime.In(now.Location()).Format(strftime), func(label, v string, _ bool) { row(label, v) })
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
		htmlEscape(b, v)
		b.WriteString("</td>")
	}
	for i := range s.Procs {
		r := newProcRow(&s.Procs[i], now)
		b.WriteString("<tr>")
		td(strconv.Itoa(r.pid))
		td(r.state)
		td(r.start.Format(strftime))
		td(strconv.FormatUint(r.since, 10))
		td(strconv.FormatUint(r.requests, 10))
		td(strconv.FormatUint(r.duration, 10))
		tdEsc(orDash(r.method))
		b.WriteString("<td>")
		uriEscaped(b, &r)
		b.WriteString("</td>")
		td(strconv.FormatUint(r.contentLength, 10))
		tdEsc(orDash(r.user))
		tdEsc(orDash(r.script))
		td(strconv.FormatFloat(r.cpu, 'f', 2, 64))
		td(strconv.FormatUint(r.memory, 10))
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table></body></html>")
}
