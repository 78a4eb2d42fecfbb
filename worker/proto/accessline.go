package proto

// This file formats one access log line from the compiled tokens of
// accessformat.go and a request as net/http/fcgi built it.

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendLine formats rec's line, cut to accessLineMax, with its newline;
// an empty line stays empty (php-fpm writes none).
func (a *AccessLog) appendLine(b []byte, rec *accessRecord, r *http.Request) []byte {
	start := len(b)
	for i := range a.tokens {
		if len(b) > accessLineMax {
			break
		}
		t := &a.tokens[i]
		switch t.kind {
		case tokLiteral:
			b = appendRaw(b, t.text)
		case tokCPU:
			b = appendCPU(b, t.unit, rec)
		case tokDuration:
			us := rec.end.Sub(rec.start).Microseconds()
			switch t.unit {
			case durSeconds:
				b = strconv.AppendFloat(b, float64(us/1e6)+float64(us%1e6)/1e6, 'f', 3, 64)
			case durMilli:
				b = strconv.AppendFloat(b, float64(us/1e6)*1000+float64(us%1e6)/1000, 'f', 3, 64)
			default:
				b = strconv.AppendInt(b, us, 10)
			}
		case tokEnv:
			b = appendEnv(b, t, r)
		case tokScript:
			b = appendOr(b, processEnv(r)["SCRIPT_FILENAME"])
		case tokContentLength:
			b = strconv.AppendInt(b, max(r.ContentLength, 0), 10)
		case tokMethod:
			b = appendOr(b, r.Method)
		case tokMemory:
			m := rec.mem
			switch t.unit {
			case memKilo:
				m /= 1024
			case memMega:
				m /= 1024 * 1024
			}
			b = strconv.AppendUint(b, m, 10)
		case tokPool:
			b = appendOr(b, a.pool)
		case tokRespHeader:
			b = appendOr(b, rec.hdrs[t.idx])
		case tokPID:
			b = strconv.AppendInt(b, int64(a.pid), 10)
		case tokPPID:
			b = strconv.AppendInt(b, int64(a.ppid), 10)
		case tokQuery:
			if r.URL != nil {
				b = appendCut(b, r.URL.RawQuery)
			}
		case tokQueryMark:
			if r.URL != nil && r.URL.RawQuery != "" {
				b = append(b, '?')
			}
		case tokURI:
			if r.URL != nil {
				b = appendCut(b, r.URL.Path)
			}
		case tokRemote:
			if p := a.peer.Load(); p != nil {
				b = append(b, p.text...)
			} else {
				host, _, _ := net.SplitHostPort(r.RemoteAddr)
				b = appendOr(b, host)
			}
		case tokStatus:
			b = strconv.AppendInt(b, int64(rec.status), 10)
		case tokStart:
			b = t.tf.append(b, rec.start)
		case tokEnd:
			b = t.tf.append(b, rec.end)
		case tokUser:
			if v := r.Header["Authorization"]; len(v) > 0 {
				b = appendBasicUser(b, v[0])
			}
		}
	}
	if len(b) > accessLineMax {
		n := accessLineMax - len("...")
		for k := 0; k < 3 && n > 0 && !utf8.RuneStart(b[n]); k++ {
			n-- // do not cut a character in two
		}
		b = append(b[:n], "..."...)
	}
	if len(b) == start {
		return b
	}
	return append(b, '\n')
}

// appendRaw appends s, or as much of it as can still make a line too
// long (the line is cut afterwards; this bounds the buffer). For the
// format's own text only.
func appendRaw(b []byte, s string) []byte {
	if room := accessLineMax + 1 - len(b); len(s) > room {
		s = s[:max(room, 0)]
	}
	return append(b, s...)
}

// appendCut is appendRaw for a value from a request, a response or the
// configuration, escaped (escapeFrom).
func appendCut(b []byte, s string) []byte {
	start := len(b)
	return escapeFrom(appendRaw(b, s), start)
}

// escapeFrom escapes b[start:] in place, as nginx escapes its access log
// variables: a control byte (below 0x20, and 0x7f), '"' and '\' become
// \xHH, so a value cannot end the line (a Basic-auth user name or a
// header with a newline would forge the next line) nor the quotes a
// format puts around it. Bytes from 0x80 up stay as they are (UTF-8 text
// stays readable). Values with nothing to escape, the usual case, are
// left alone without a copy or an allocation.
func escapeFrom(b []byte, start int) []byte {
	n := 0
	for _, c := range b[start:] {
		if needsEscape(c) {
			n++
		}
	}
	if n == 0 {
		return b
	}
	end := len(b)
	b = append(b, make([]byte, 3*n)...) // grows the buffer in place when it can
	const hex = "0123456789abcdef"
	w := len(b)
	for r := end - 1; r >= start; r-- {
		c := b[r]
		if !needsEscape(c) {
			w--
			b[w] = c
			continue
		}
		w -= 4
		b[w], b[w+1], b[w+2], b[w+3] = '\\', 'x', hex[c>>4], hex[c&15]
	}
	return b
}

func needsEscape(c byte) bool { return c < 0x20 || c == 0x7f || c == '"' || c == '\\' }

// appendOr appends s, or "-" when s is empty.
func appendOr(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendCut(b, s)
}

// appendCPU appends php-fpm's %C: CPU time over the request's duration, in
// percent with two decimals.
func appendCPU(b []byte, unit uint8, rec *accessRecord) []byte {
	var ns int64
	switch unit {
	case cpuUser:
		ns = rec.cpu1.user - rec.cpu0.user
	case cpuSystem:
		ns = rec.cpu1.sys - rec.cpu0.sys
	default:
		ns = rec.cpu1.user - rec.cpu0.user + rec.cpu1.sys - rec.cpu0.sys
	}
	pct := 0.0
	if d := rec.end.Sub(rec.start); d > 0 && ns > 0 {
		pct = float64(ns) / float64(d) * 100
	}
	return strconv.AppendFloat(b, pct, 'f', 2, 64)
}

// appendEnv appends the FastCGI param t names, or "-".
func appendEnv(b []byte, t *accessToken, r *http.Request) []byte {
	var v string
	switch t.unit {
	case envParam:
		v = processEnv(r)[t.text]
	case envHeader, envContentType:
		key := t.text
		if t.unit == envContentType {
			key = "Content-Type"
		}
		if vs := r.Header[key]; len(vs) > 0 {
			v = vs[0]
		}
	case envHost:
		v = r.Host
	case envContentLength:
		if r.ContentLength > 0 {
			return strconv.AppendInt(b, r.ContentLength, 10)
		}
	case envHTTPS:
		if r.TLS != nil {
			v = "on"
		}
	case envQuery:
		if r.URL != nil {
			return appendCut(b, r.URL.RawQuery) // sent even when empty
		}
	case envRemoteAddr:
		v, _, _ = net.SplitHostPort(r.RemoteAddr)
	case envRemotePort:
		_, v, _ = net.SplitHostPort(r.RemoteAddr)
		if v == "0" {
			v = "" // cgi.RequestFromMap's port when REMOTE_PORT is missing
		}
	case envMethod:
		v = r.Method
	case envRequestURI:
		if r.URL == nil {
			break
		}
		b = appendCut(b, r.URL.EscapedPath())
		if r.URL.RawQuery != "" || r.URL.ForceQuery {
			b = append(b, '?')
			b = appendCut(b, r.URL.RawQuery)
		}
		return b
	case envScriptName:
		if r.URL != nil {
			v = r.URL.Path
		}
	case envProtocol:
		v = r.Proto
	}
	return appendOr(b, v)
}

// base64 decoding table: 0xff marks a byte outside the alphabet.
var base64Dec = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// appendBasicUser appends the user of a Basic Authorization header, as
// PHP's php_handle_auth_data: "Basic " in any case, base64 decoded
// leniently (bytes outside the alphabet skipped, stopping at '='), and the
// user is what comes before the first ':'; nothing without a ':'.
func appendBasicUser(b []byte, auth string) []byte {
	if len(auth) < 6 || !strings.EqualFold(auth[:6], "Basic ") {
		return b
	}
	start := len(b)
	var acc uint32
	bits := 0
	for i := 6; i < len(auth) && len(b)-start <= accessLineMax; i++ {
		c := auth[i]
		if c == '=' {
			break
		}
		v := base64Dec[c]
		if v == 0xff {
			continue
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			b = append(b, byte(acc>>bits))
		}
	}
	for i := start; i < len(b); i++ {
		if b[i] == ':' {
			return escapeFrom(b[:i], start)
		}
	}
	return b[:start]
}
