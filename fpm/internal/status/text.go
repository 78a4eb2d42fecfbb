package status

// This file writes the status page's text format (the default).

import (
	"bytes"
	"strconv"
	"time"
)

// textLabel writes a text-format label padded to php-fpm's 22-column
// value position.
func textLabel(b *bytes.Buffer, label string) {
	b.WriteString(label)
	b.WriteByte(':')
	for i := len(label) + 1; i < 22; i++ {
		b.WriteByte(' ')
	}
}

func textBody(b *bytes.Buffer, s *Snapshot, full bool, now time.Time) {
	p := newPoolView(s, now)
	line := func(label, v string) {
		textLabel(b, label)
		b.WriteString(v)
		b.WriteByte('\n')
	}
	num := func(label string, v int64) { line(label, strconv.FormatInt(v, 10)) }
	unum := func(label string, v uint64) { line(label, strconv.FormatUint(v, 10)) }
	poolFields(s, &p, s.StartTime.In(now.Location()).Format(strftime), func(label, v string, _ bool) { line(label, v) })
	if !full {
		return
	}
	for i := range s.Procs {
		r := newProcRow(&s.Procs[i], now)
		b.WriteString("\n************************\n")
		num("pid", int64(r.pid))
		line("state", r.state)
		line("start time", r.start.Format(strftime))
		unum("start since", r.since)
		unum("requests", r.requests)
		unum("request duration", r.duration)
		line("request method", orDash(r.method))
		textLabel(b, "request URI")
		b.WriteString(orDash(r.uri))
		if r.query != "" {
			b.WriteByte('?')
			b.WriteString(r.query)
		}
		b.WriteByte('\n')
		unum("content length", r.contentLength)
		line("user", orDash(r.user))
		line("script", orDash(r.script))
		textLabel(b, "last request cpu")
		appendCPU(b, r.cpu)
		b.WriteByte('\n')
		unum("last request memory", r.memory)
	}
}
