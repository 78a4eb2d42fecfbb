package fcgi

// This file builds the CGI variables of an HTTP request, as nginx's stock
// fastcgi_params does.

import (
	"fmt"
	"net"
	"net/http"
	"path"
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
}

// EnvFromRequest returns the CGI variables for r: those nginx's stock
// fastcgi_params sends, plus SCRIPT_FILENAME (and PATH_INFO when set), plus
// an HTTP_* variable per request header. CONTENT_LENGTH is always present,
// empty when there is no body, as nginx does; Client.Do sets it from the body
// it actually sends.
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
	env := make(map[string]string, 24+len(r.Header))

	uri := normalizePath(r.URL.Path)
	scriptName := o.ScriptName
	if scriptName == "" {
		scriptName = uri
	}
	scriptFilename := o.ScriptFilename
	if scriptFilename == "" {
		scriptFilename = strings.TrimSuffix(o.DocumentRoot, "/") + scriptName
	}
	requestURI := r.RequestURI
	if !strings.HasPrefix(requestURI, "/") {
		requestURI = r.URL.RequestURI()
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	contentLength := ""
	if r.ContentLength > 0 {
		contentLength = strconv.FormatInt(r.ContentLength, 10)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
		env["HTTPS"] = "on"
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}

	env["SCRIPT_FILENAME"] = scriptFilename
	env["QUERY_STRING"] = r.URL.RawQuery
	env["REQUEST_METHOD"] = method
	env["CONTENT_TYPE"] = r.Header.Get("Content-Type")
	env["CONTENT_LENGTH"] = contentLength
	env["SCRIPT_NAME"] = scriptName
	env["REQUEST_URI"] = requestURI
	env["DOCUMENT_URI"] = uri
	env["DOCUMENT_ROOT"] = o.DocumentRoot
	env["SERVER_PROTOCOL"] = r.Proto
	env["REQUEST_SCHEME"] = scheme
	env["GATEWAY_INTERFACE"] = "CGI/1.1"
	env["SERVER_SOFTWARE"] = o.ServerSoftware
	env["REDIRECT_STATUS"] = "200"
	if o.PathInfo != "" {
		env["PATH_INFO"] = o.PathInfo
	}

	remoteAddr, remotePort, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remoteAddr, remotePort = r.RemoteAddr, ""
	}
	env["REMOTE_ADDR"] = remoteAddr
	env["REMOTE_PORT"] = remotePort
	user, _, _ := r.BasicAuth()
	env["REMOTE_USER"] = user

	serverAddr, serverPort := o.ServerAddr, o.ServerPort
	if serverAddr == "" || serverPort == "" {
		a, p := localAddr(r, host, scheme)
		if serverAddr == "" {
			serverAddr = a
		}
		if serverPort == "" {
			serverPort = p
		}
	}
	env["SERVER_ADDR"] = serverAddr
	env["SERVER_PORT"] = serverPort
	serverName := o.ServerName
	if serverName == "" {
		serverName = hostName(host)
	}
	env["SERVER_NAME"] = serverName
	env["HTTP_HOST"] = host

	for k, vv := range r.Header {
		name, ok := headerVar(k)
		if !ok {
			continue
		}
		sep := ", "
		if name == "HTTP_COOKIE" {
			sep = "; " // as nginx joins several Cookie headers
		}
		v := strings.Join(vv, sep)
		if old, dup := env[name]; dup {
			v = old + sep + v
		}
		env[name] = v
	}

	for k, v := range env {
		if strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("%w (%s)", ErrNULByte, k)
		}
	}
	return env, nil
}

// normalizePath resolves "." and "..", merges slashes, and keeps a trailing
// slash, like nginx's $uri. ".." never climbs above "/".
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// localAddr returns SERVER_ADDR and SERVER_PORT from the connection, or from
// host and scheme when the request carries no local address.
func localAddr(r *http.Request, host, scheme string) (string, string) {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if h, p, err := net.SplitHostPort(a.String()); err == nil {
			return h, p
		}
	}
	if _, p, err := net.SplitHostPort(host); err == nil && p != "" {
		return "", p
	}
	if scheme == "https" {
		return "", "443"
	}
	return "", "80"
}

// hostName returns host without its port, in lower case.
func hostName(host string) string {
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
	if k == "" || strings.EqualFold(k, "Host") || strings.EqualFold(k, "Proxy") {
		return "", false
	}
	b := make([]byte, 0, len("HTTP_")+len(k))
	b = append(b, "HTTP_"...)
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z':
			b = append(b, c-('a'-'A'))
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b = append(b, c)
		case c == '-':
			b = append(b, '_')
		default:
			return "", false
		}
	}
	return string(b), true
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
