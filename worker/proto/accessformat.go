package proto

// This file compiles an access_format (php-fpm's access.format) into
// tokens, with the errors the configuration reports. accessline.go formats
// a request's line from the tokens.

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// accessKind is what an accessToken prints.
type accessKind uint8

const (
	tokLiteral       accessKind = iota
	tokCPU                      // %C; unit: cpuTotal, cpuUser, cpuSystem
	tokDuration                 // %d; unit: durSeconds, durMilli, durMicro
	tokEnv                      // %{NAME}e; unit: env*
	tokScript                   // %f
	tokContentLength            // %l
	tokMethod                   // %m
	tokMemory                   // %M; unit: memBytes, memKilo, memMega
	tokPool                     // %n
	tokRespHeader               // %{Name}o
	tokPID                      // %p
	tokPPID                     // %P
	tokQuery                    // %q
	tokQueryMark                // %Q
	tokURI                      // %r
	tokRemote                   // %R
	tokStatus                   // %s
	tokStart                    // %t
	tokEnd                      // %T
	tokUser                     // %u
)

const (
	cpuTotal = iota
	cpuUser
	cpuSystem
)

const (
	durSeconds = iota
	durMilli
	durMicro
)

const (
	memBytes = iota
	memKilo
	memMega
)

// Where %{NAME}e finds NAME.
const (
	envParam         = iota // fcgi.ProcessEnv
	envHeader               // HTTP_*: r.Header[alt]
	envHost                 // HTTP_HOST: r.Host
	envContentLength        // r.ContentLength
	envContentType          // r.Header["Content-Type"]
	envHTTPS                // r.TLS
	envQuery                // r.URL.RawQuery
	envRemoteAddr           // r.RemoteAddr's host
	envRemotePort           // r.RemoteAddr's port
	envMethod               // r.Method
	envRequestURI           // r.URL: escaped path and query
	envScriptName           // r.URL.Path, as %r
	envProtocol             // r.Proto
	envLost                 // consumed by net/http/fcgi and not kept
)

// accessToken is one piece of a compiled access format.
type accessToken struct {
	kind accessKind
	unit uint8      // the {arg} variant of %C, %d, %M; the source of %e
	text string     // literal text; %e param name or header key; %o name
	alt  string     // %o: the canonical header name
	idx  int        // %o: index into accessRecord.hdrs
	tf   timeFormat // %t, %T
}

// accessArgs lists the {arg} values each token allows, as the config
// (fpm cfgCheckAccessFormat); nil allows any.
var accessArgs = map[byte][]string{
	'C': {"total", "user", "system"},
	'd': {"seconds", "milliseconds", "milli", "miliseconds", "mili", "microseconds", "micro"},
	'M': {"bytes", "kilobytes", "kilo", "megabytes", "mega"},
	'e': nil, 'o': nil, 't': nil, 'T': nil,
}

var defaultTimeFormat = compileTimeFormat("%d/%b/%Y:%H:%M:%S %z")

// compileAccessFormat parses an access_format. It accepts exactly what the
// configuration accepts, and its errors say the same.
func compileAccessFormat(format string) ([]accessToken, error) {
	var (
		tokens []accessToken
		lit    []byte
		nHdr   int
	)
	flush := func() {
		if len(lit) > 0 {
			tokens = append(tokens, accessToken{kind: tokLiteral, text: string(lit)})
			lit = lit[:0]
		}
	}
	bad := func(f string, args ...any) ([]accessToken, error) {
		return nil, errors.New("worker: access format: " + fmt.Sprintf(f, args...))
	}
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			lit = append(lit, format[i])
			continue
		}
		i++
		arg, hasArg := "", false
		if i < len(format) && format[i] == '{' {
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				return bad("missing \"}\" after %q", format[i-1:])
			}
			arg, hasArg = format[i+1:i+end], true
			i += end + 1
		}
		if i >= len(format) {
			return bad("the format ends in the middle of a token (write %%%% for a literal %%)")
		}
		c := format[i]
		if c >= utf8.RuneSelf || !strings.ContainsRune("%CdefMlmnopPqQrRstTu", rune(c)) {
			r, _ := utf8.DecodeRuneInString(format[i:])
			return bad("invalid token %%%c", r)
		}
		allowed, embrace := accessArgs[c]
		switch {
		case hasArg && !embrace:
			return bad("embrace is not allowed for modifier %%%c", c)
		case (c == 'e' || c == 'o') && arg == "":
			return bad("%%%c needs an argument, as in %%{NAME}%c", c, c)
		case hasArg && allowed != nil && !containsString(allowed, arg):
			return bad("%%{%s}%c: the argument must be one of %s", arg, c, strings.Join(allowed, ", "))
		}
		if c == '%' {
			lit = append(lit, '%')
			continue
		}
		flush()
		t := accessToken{}
		switch c {
		case 'C':
			t.kind = tokCPU
			switch arg {
			case "user":
				t.unit = cpuUser
			case "system":
				t.unit = cpuSystem
			}
		case 'd':
			t.kind = tokDuration
			switch arg {
			case "milliseconds", "milli", "miliseconds", "mili":
				t.unit = durMilli
			case "microseconds", "micro":
				t.unit = durMicro
			}
		case 'e':
			t.kind = tokEnv
			t.unit, t.text = envSource(arg)
		case 'f':
			t.kind = tokScript
		case 'l':
			t.kind = tokContentLength
		case 'm':
			t.kind = tokMethod
		case 'M':
			t.kind = tokMemory
			switch arg {
			case "kilobytes", "kilo":
				t.unit = memKilo
			case "megabytes", "mega":
				t.unit = memMega
			}
		case 'n':
			t.kind = tokPool
		case 'o':
			t.kind, t.text, t.alt, t.idx = tokRespHeader, arg, textproto.CanonicalMIMEHeaderKey(arg), nHdr
			nHdr++
		case 'p':
			t.kind = tokPID
		case 'P':
			t.kind = tokPPID
		case 'q':
			t.kind = tokQuery
		case 'Q':
			t.kind = tokQueryMark
		case 'r':
			t.kind = tokURI
		case 'R':
			t.kind = tokRemote
		case 's':
			t.kind = tokStatus
		case 't', 'T':
			t.kind = tokStart
			if c == 'T' {
				t.kind = tokEnd
			}
			t.tf = defaultTimeFormat
			if arg != "" {
				t.tf = compileTimeFormat(arg)
			}
		case 'u':
			t.kind = tokUser
		}
		tokens = append(tokens, t)
	}
	flush()
	return tokens, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// envSource says where %{name}e is found in a request built by
// net/http/fcgi, and the map key to look up.
func envSource(name string) (uint8, string) {
	switch name {
	case "HTTP_HOST":
		return envHost, name
	case "CONTENT_LENGTH":
		return envContentLength, name
	case "CONTENT_TYPE":
		return envContentType, name
	case "HTTPS":
		return envHTTPS, name
	case "QUERY_STRING":
		return envQuery, name
	case "REMOTE_ADDR":
		return envRemoteAddr, name
	case "REMOTE_PORT":
		return envRemotePort, name
	case "REQUEST_METHOD":
		return envMethod, name
	case "REQUEST_URI":
		return envRequestURI, name
	case "SCRIPT_NAME":
		return envScriptName, name
	case "SERVER_PROTOCOL":
		return envProtocol, name
	case "PATH_INFO", "REMOTE_HOST":
		return envLost, name
	}
	if after, ok := strings.CutPrefix(name, "HTTP_"); ok {
		// cgi.RequestFromMap: Header.Add(strings.ReplaceAll(after, "_", "-"), v)
		return envHeader, textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(after, "_", "-"))
	}
	return envParam, name
}
