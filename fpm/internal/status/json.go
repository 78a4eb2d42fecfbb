package status

// This file writes the status page's json format.

import (
	"bytes"
	"strconv"
	"time"
)

func jsonBody(b *bytes.Buffer, s *Snapshot, full bool, now time.Time) {
	p := newPoolView(s, now)
	// The pool name goes out raw, as in php-fpm (it comes from the config).
	b.WriteByte('{')
	poolFields(s, &p, strconv.FormatInt(s.StartTime.Unix(), 10), func(label, v string, text bool) {
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
		r := newProcRow(&s.Procs[i], now)
		b.WriteString(`{"pid":`)
		appendInt(b, int64(r.pid))
		b.WriteString(`,"state":"`)
		b.WriteString(r.state)
		b.WriteString(`","start time":`)
		appendInt(b, r.start.Unix())
		b.WriteString(`,"start since":`)
		appendUint(b, r.since)
		b.WriteString(`,"requests":`)
		appendUint(b, r.requests)
		b.WriteString(`,"request duration":`)
		appendUint(b, r.duration)
		b.WriteString(`,"request method":"`)
		jsonEscape(b, orDash(r.method))
		b.WriteString(`","request uri":"`)
		jsonEscape(b, orDash(r.uri))
		if r.query != "" {
			b.WriteByte('?')
			jsonEscape(b, r.query)
		}
		b.WriteString(`","content length":`)
		appendUint(b, r.contentLength)
		b.WriteString(`,"user":"`)
		jsonEscape(b, orDash(r.user))
		b.WriteString(`","script":"`)
		jsonEscape(b, orDash(r.script))
		b.WriteString(`","last request cpu":`)
		appendCPU(b, r.cpu)
		b.WriteString(`,"last request memory":`)
		appendUint(b, r.memory)
		b.WriteByte('}')
	}
	b.WriteString("]}")
}
