package fcgi

// This file builds the CGI variables of an HTTP request, as nginx's stock
// fastcgi_params does.

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"path"
	"slices"
	"strconv"
	"strings"
)

// EnvOptions are the values EnvFromRequest cannot learn from the request.
type EnvOptions struct {
	DocumentRoot   string // DOCUMENT_ROOT
	ScriptName     string // SCRIPT_NAME; default: the normalized URL path
	ScriptFilename string // SCRIPT_FILENAME; default: DocumentRoot + ScriptName
	PathInfo       string // PATH_INFO; sent only when not empty
	ServerSoftware string // SERVER_SOFTWARE
	ServerName     string // SERVER_NAME; default: r.Host without port, lower case

	// SERVER_ADDR and SERVER_PORT; default: the local address of the
	// connection (http.LocalAddrContextKey), else no address and the port of
	// r.Host or the scheme's.
	ServerAddr, ServerPort string

	// HTTPS says the request came over HTTPS (r.TLS says so too): HTTPS=on
	// and REQUEST_SCHEME=https. For a proxy in front that terminated TLS.
	HTTPS bool

	// Extra are more variables, name and value in turn, sent after the
	// others: HTTP_* names (a request header that gives one is dropped) or
	// names not set above (one that is, SERVER_NAME say, is ignored: use
	// the option).
	Extra []string
}

// EnvFromRequest returns the CGI variables for r: those nginx's stock
// fastcgi_params sends, plus SCRIPT_FILENAME (and PATH_INFO when set), plus
// an HTTP_* variable per request header. CONTENT_LENGTH is always present,
// empty when there is no body, as nginx does; Client.Do sets it from the body
// it actually sends. They are AppendEnv's pairs, in a map.
//
// Security:
//   - The Proxy header is not passed (httpoxy, CVE-2016-5385): HTTP_PROXY
//     would be taken for the proxy setting by many CGI libraries.
//   - Headers whose names have characters other than letters, digits and
//     '-' are dropped, as nginx does (underscores_in_headers off): "X_User"
//     would otherwise collide with "X-User" as HTTP_X_USER.
//   - HTTP_HOST comes from r.Host, which for an absolute-form request target
//     is the target's host, not the raw Host header.
//   - The default SCRIPT_NAME is the URL path with "." and ".." resolved and
//     repeated slashes merged, so SCRIPT_FILENAME stays under DocumentRoot.
//   - A NUL byte anywhere (path, query, header values, options) is refused
//     with ErrNULByte: C code such as PHP would cut the string there
//     ("/upload.jpg%00.php").
func EnvFromRequest(r *http.Request, o EnvOptions) (map[string]string, error) {
	bp := getBuf()
	defer putBuf(bp)
	b, err := AppendEnv((*bp)[:0], r, o)
	*bp = b
	if err != nil {
		return nil, err
	}
	env := make(map[string]string, 24+len(r.Header))
	ScanPairs(b, 0, func(k, v []byte) { env[varName(k)] = string(v) })
	env["CONTENT_LENGTH"] = ""
	if r.ContentLength > 0 {
		env["CONTENT_LENGTH"] = strconv.FormatInt(r.ContentLength, 10)
	}
	return env, nil
}

// varNames are the names AppendEnv sends for every request.
var varNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"HTTPS", "SCRIPT_FILENAME", "QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE",
		"SCRIPT_NAME", "REQUEST_URI", "DOCUMENT_URI", "DOCUMENT_ROOT", "SERVER_PROTOCOL", "REQUEST_SCHEME",
		"GATEWAY_INTERFACE", "SERVER_SOFTWARE", "REDIRECT_STATUS", "PATH_INFO", "REMOTE_ADDR", "REMOTE_PORT",
		"REMOTE_USER", "SERVER_ADDR", "SERVER_PORT", "SERVER_NAME", "HTTP_HOST"} {
		m[n] = n
	}
	for _, n := range commonHeaderVars {
		m[n] = n
	}
	return m
}()

// varName is k as a string, without making one for the usual names.
func varName(k []byte) string {
	if n, ok := varNames[string(k)]; ok {
		return n
	}
	return string(k)
}

// AppendEnv appends EnvFromRequest's variables to b as encoded name-value
// pairs, each name once, without CONTENT_LENGTH (Client.Do adds it: see
// Request.Pairs), and then o.Extra. It allocates nothing for a request
// whose header names are canonical (as net/http's server makes them) and
// whose path is clean. The security rules are EnvFromRequest's.
func AppendEnv(b []byte, r *http.Request, o EnvOptions) ([]byte, error) {
	start := len(b)
	uri := normalizePath(r.URL.Path)
	scriptName := o.ScriptName
	if scriptName == "" {
		scriptName = uri
	}
	requestURI := r.RequestURI
	if !strings.HasPrefix(requestURI, "/") {
		requestURI = r.URL.RequestURI()
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	scheme := "http"
	if r.TLS != nil || o.HTTPS {
		scheme = "https"
		b = AppendPair(b, "HTTPS", "on")
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}

	if o.ScriptFilename != "" {
		b = AppendPair(b, "SCRIPT_FILENAME", o.ScriptFilename)
	} else {
		b = appendPair2(b, "SCRIPT_FILENAME", strings.TrimSuffix(o.DocumentRoot, "/"), scriptName)
	}
	b = AppendPair(b, "QUERY_STRING", r.URL.RawQuery)
	b = AppendPair(b, "REQUEST_METHOD", method)
	b = AppendPair(b, "CONTENT_TYPE", r.Header.Get("Content-Type"))
	b = AppendPair(b, "SCRIPT_NAME", scriptName)
	b = AppendPair(b, "REQUEST_URI", requestURI)
	b = AppendPair(b, "DOCUMENT_URI", uri)
	b = AppendPair(b, "DOCUMENT_ROOT", o.DocumentRoot)
	b = AppendPair(b, "SERVER_PROTOCOL", r.Proto)
	b = AppendPair(b, "REQUEST_SCHEME", scheme)
	b = AppendPair(b, "GATEWAY_INTERFACE", "CGI/1.1")
	b = AppendPair(b, "SERVER_SOFTWARE", o.ServerSoftware)
	b = AppendPair(b, "REDIRECT_STATUS", "200")
	if o.PathInfo != "" {
		b = AppendPair(b, "PATH_INFO", o.PathInfo)
	}

	remoteAddr, remotePort, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remoteAddr, remotePort = r.RemoteAddr, ""
	}
	b = AppendPair(b, "REMOTE_ADDR", remoteAddr)
	b = AppendPair(b, "REMOTE_PORT", remotePort)
	user := ""
	if _, ok := r.Header["Authorization"]; ok {
		user, _, _ = r.BasicAuth()
	}
	b = AppendPair(b, "REMOTE_USER", user)

	b = appendServerAddr(b, r, o, host, scheme)
	serverName := o.ServerName
	if serverName == "" {
		serverName = hostName(host)
	}
	b = AppendPair(b, "SERVER_NAME", serverName)
	b = AppendPair(b, "HTTP_HOST", host)

	b = appendHeaderVars(b, r.Header, o.Extra)
	for i := 0; i+1 < len(o.Extra); i += 2 {
		if n := o.Extra[i]; strings.HasPrefix(n, "HTTP_") || varNames[n] == "" {
			b = AppendPair(b, n, o.Extra[i+1])
		} // else a variable set above: sent once, as set above
	}
	if name, ok := nulValue(b[start:]); ok {
		return b[:start], fmt.Errorf("%w (%s)", ErrNULByte, name)
	}
	return b, nil
}

// nulValue returns the name of the first pair in b, pairs just encoded,
// whose value has a NUL byte.
func nulValue(b []byte) (string, bool) {
	for off := 0; off < len(b); {
		nameLen, n1, _ := readSize(b[off:])
		off += n1
		valueLen, n2, _ := readSize(b[off:])
		off += n2
		if bytes.IndexByte(b[off+nameLen:off+nameLen+valueLen], 0) >= 0 {
			return string(b[off : off+nameLen]), true
		}
		off += nameLen + valueLen
	}
	return "", false
}

// appendPair2 appends the pair name, v1+v2 without making that string.
func appendPair2(dst []byte, name, v1, v2 string) []byte {
	dst = appendSize(dst, len(name))
	dst = appendSize(dst, len(v1)+len(v2))
	dst = append(dst, name...)
	dst = append(dst, v1...)
	return append(dst, v2...)
}

// appendServerAddr appends SERVER_ADDR and SERVER_PORT: o's, else the
// connection's local address, else host's port or the scheme's.
func appendServerAddr(b []byte, r *http.Request, o EnvOptions, host, scheme string) []byte {
	addr, port := o.ServerAddr, o.ServerPort
	var ab, pb [64]byte
	a, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if ta, ok := a.(*net.TCPAddr); ok && (addr == "" || port == "") {
		// As net.SplitHostPort(ta.String()) gives it, without the strings.
		ap := ta.AddrPort()
		b = appendAddrPair(b, "SERVER_ADDR", addr, ap.Addr().Unmap().AppendTo(ab[:0]))
		return appendAddrPair(b, "SERVER_PORT", port, strconv.AppendUint(pb[:0], uint64(ap.Port()), 10))
	}
	if addr == "" || port == "" {
		la, lp := localAddr(a, host, scheme)
		if addr == "" {
			addr = la
		}
		if port == "" {
			port = lp
		}
	}
	b = AppendPair(b, "SERVER_ADDR", addr)
	return AppendPair(b, "SERVER_PORT", port)
}

// appendAddrPair appends name with the value given, or else with v.
func appendAddrPair(b []byte, name, given string, v []byte) []byte {
	if given != "" {
		return AppendPair(b, name, given)
	}
	b = appendSize(b, len(name))
	b = appendSize(b, len(v))
	b = append(b, name...)
	return append(b, v...)
}

// appendHeaderVars appends an HTTP_* variable per header that may be
// passed (see headerVar), several values of one header joined as nginx
// joins them, and none of the names in extra (name, value, ...): those are
// the caller's. Two names that give one variable ("X-User" and "x-user",
// which only a handmade Header has: net/http's server canonicalizes them)
// are joined into one.
func appendHeaderVars(b []byte, h http.Header, extra []string) []byte {
	for k := range h {
		if textproto.CanonicalMIMEHeaderKey(k) != k {
			return appendHeaderVarsJoined(b, h, extra)
		}
	}
	for k, vv := range h {
		name, ok := commonHeaderVars[k]
		if !ok && !validHeaderName(k) {
			continue
		}
		if len(extra) > 0 && isExtraHeader(k, name, ok, extra) {
			continue
		}
		sep := ", "
		if name == "HTTP_COOKIE" {
			sep = "; " // as nginx joins several Cookie headers
		}
		n := 0 // the joined value's length
		for i, v := range vv {
			if i > 0 {
				n += len(sep)
			}
			n += len(v)
		}
		if ok {
			b = appendSize(b, len(name))
			b = appendSize(b, n)
			b = append(b, name...)
		} else {
			b = appendSize(b, len("HTTP_")+len(k))
			b = appendSize(b, n)
			b = appendVarName(b, k)
		}
		for i, v := range vv {
			if i > 0 {
				b = append(b, sep...)
			}
			b = append(b, v...)
		}
	}
	return b
}

// appendHeaderVarsJoined is appendHeaderVars for a Header with names that
// are not canonical: through a map, to join those that meet, in the order
// of their names, so the same request gives the same variables.
func appendHeaderVarsJoined(b []byte, h http.Header, extra []string) []byte {
	vars := make(map[string]string, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		vv := h[k]
		name, ok := headerVar(k)
		if !ok || isExtra(name, extra) {
			continue
		}
		sep := ", "
		if name == "HTTP_COOKIE" {
			sep = "; "
		}
		v := strings.Join(vv, sep)
		if old, dup := vars[name]; dup {
			v = old + sep + v
		}
		vars[name] = v
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		b = AppendPair(b, name, vars[name])
	}
	return b
}

// isExtraHeader reports whether header k gives one of the names of extra
// (name, value, ...); name is its variable when named, else not made.
func isExtraHeader(k, name string, named bool, extra []string) bool {
	if named {
		return isExtra(name, extra)
	}
	for i := 0; i < len(extra); i += 2 {
		x, ok := strings.CutPrefix(extra[i], "HTTP_")
		if !ok || len(x) != len(k) {
			continue
		}
		same := true
		for j := 0; j < len(k) && same; j++ {
			same = varChar(k[j]) == x[j]
		}
		if same {
			return true
		}
	}
	return false
}

// isExtra reports whether name is one of the names of extra (name, value, ...).
func isExtra(name string, extra []string) bool {
	for i := 0; i < len(extra); i += 2 {
		if extra[i] == name {
			return true
		}
	}
	return false
}

// normalizePath resolves "." and "..", merges slashes, and keeps a trailing
// slash, like nginx's $uri. ".." never climbs above "/".
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	c := p
	if p[0] != '/' {
		c = "/" + p
	}
	c = path.Clean(c)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// localAddr returns SERVER_ADDR and SERVER_PORT from the connection's local
// address a, or from host and scheme when there is none.
func localAddr(a net.Addr, host, scheme string) (string, string) {
	if a != nil {
		if h, p, err := net.SplitHostPort(a.String()); err == nil {
			return h, p
		}
	}
	if strings.IndexByte(host, ':') >= 0 { // else no port, and no error to make
		if _, p, err := net.SplitHostPort(host); err == nil && p != "" {
			return "", p
		}
	}
	if scheme == "https" {
		return "", "443"
	}
	return "", "80"
}

// hostName returns host without its port, in lower case.
func hostName(host string) string {
	if strings.IndexByte(host, ':') < 0 { // no port: no error to make
		return strings.ToLower(host)
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
		if strings.IndexByte(h, ':') >= 0 {
			host = "[" + h + "]"
		}
	}
	return strings.ToLower(host)
}

// headerVar returns the CGI variable for header k, or false when the header
// must not be passed: Host (HTTP_HOST comes from r.Host), Proxy (httpoxy,
// CVE-2016-5385), and names with characters other than letters, digits and
// '-'.
func headerVar(k string) (string, bool) {
	if v, ok := commonHeaderVars[k]; ok {
		return v, true
	}
	if !validHeaderName(k) {
		return "", false
	}
	return headerVarName(k), true
}

// validHeaderName reports whether header k may be passed: not Host, not
// Proxy, only letters, digits and '-'.
func validHeaderName(k string) bool {
	if k == "" || strings.EqualFold(k, "Host") || strings.EqualFold(k, "Proxy") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// headerVarName is HTTP_ and k in upper case with '-' as '_', for a valid k.
func headerVarName(k string) string {
	return string(appendVarName(make([]byte, 0, len("HTTP_")+len(k)), k))
}

// appendVarName appends headerVarName(k).
func appendVarName(b []byte, k string) []byte {
	b = append(b, "HTTP_"...)
	for i := 0; i < len(k); i++ {
		b = append(b, varChar(k[i]))
	}
	return b
}

// varChar is the character of a variable name for c of a valid header
// name: upper case, '_' for '-'.
func varChar(c byte) byte {
	switch {
	case 'a' <= c && c <= 'z':
		return c - ('a' - 'A')
	case c == '-':
		return '_'
	}
	return c
}

// commonHeaderVars avoids building the variable name of frequent headers.
var commonHeaderVars = map[string]string{
	"Accept":            "HTTP_ACCEPT",
	"Accept-Encoding":   "HTTP_ACCEPT_ENCODING",
	"Accept-Language":   "HTTP_ACCEPT_LANGUAGE",
	"Authorization":     "HTTP_AUTHORIZATION",
	"Cache-Control":     "HTTP_CACHE_CONTROL",
	"Connection":        "HTTP_CONNECTION",
	"Content-Length":    "HTTP_CONTENT_LENGTH",
	"Content-Type":      "HTTP_CONTENT_TYPE",
	"Cookie":            "HTTP_COOKIE",
	"If-Modified-Since": "HTTP_IF_MODIFIED_SINCE",
	"If-None-Match":     "HTTP_IF_NONE_MATCH",
	"Origin":            "HTTP_ORIGIN",
	"Referer":           "HTTP_REFERER",
	"User-Agent":        "HTTP_USER_AGENT",
	"X-Forwarded-For":   "HTTP_X_FORWARDED_FOR",
	"X-Forwarded-Proto": "HTTP_X_FORWARDED_PROTO",
	"X-Real-Ip":         "HTTP_X_REAL_IP",
	"X-Requested-With":  "HTTP_X_REQUESTED_WITH",
}
