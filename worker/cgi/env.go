package cgi

// This file builds a script's environment: the worker's own (the pool's
// env), the request's RFC 3875 meta-variables and its HTTP_* headers, and
// nothing else a web server sent.

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// fromParams are the FastCGI params a script receives as they came: the
// meta-variables of RFC 3875 §4.1 that the request itself does not carry,
// and the de facto ones every web server sends (nginx's fastcgi_params,
// Apache's mod_proxy_fcgi, gofpm's front). Any other param is dropped: a
// web server can send any name (fastcgi_param LD_PRELOAD, PATH, BASH_ENV,
// ENV, PERL5LIB, PYTHONPATH...), and one of those in a script's
// environment changes what the script runs. The request's own variables
// (REQUEST_METHOD, QUERY_STRING, CONTENT_*, SCRIPT_*, PATH_INFO...) are set
// from the request, not from here.
var fromParams = map[string]bool{
	// RFC 3875 §4.1
	"AUTH_TYPE":       true,
	"REMOTE_HOST":     true,
	"REMOTE_IDENT":    true,
	"REMOTE_USER":     true,
	"SERVER_NAME":     true,
	"SERVER_PORT":     true,
	"SERVER_SOFTWARE": true,
	// de facto
	"DOCUMENT_ROOT":   true,
	"DOCUMENT_URI":    true,
	"HTTPS":           true,
	"REDIRECT_STATUS": true,
	"REQUEST_SCHEME":  true,
	"SERVER_ADDR":     true,
}

// env builds the script's environment: the worker's own without GOFPM_*
// and HTTP_* names (that is the pool's env, and with clear_env = false
// the master's), the RFC 3875 variables of the request, HTTP_* for its
// headers except Proxy (httpoxy), and the params in fromParams.
func (b *bridge) env(r *http.Request, params map[string]string, s *script) []string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.HasPrefix(k, "GOFPM_") || strings.HasPrefix(k, "HTTP_") {
			continue
		}
		m[k] = v
	}
	if m["PATH"] == "" {
		m["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	root := b.cfg.Root
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	// Defaults the web server's parameters override.
	m["SERVER_SOFTWARE"] = "gofpm"
	m["SERVER_NAME"] = host
	m["SERVER_PORT"] = port
	m["DOCUMENT_ROOT"] = root
	for k, v := range params {
		if fromParams[k] {
			m[k] = v
		}
	}
	// What describes this request, from the request itself.
	m["GATEWAY_INTERFACE"] = "CGI/1.1"
	m["SERVER_PROTOCOL"] = r.Proto
	m["REQUEST_METHOD"] = r.Method
	m["QUERY_STRING"] = r.URL.RawQuery
	m["REQUEST_URI"] = r.URL.RequestURI()
	m["SCRIPT_FILENAME"] = s.name
	m["SCRIPT_NAME"] = strings.TrimSuffix(r.URL.Path, s.pathInfo)
	delete(m, "PATH_INFO")
	delete(m, "PATH_TRANSLATED")
	if s.pathInfo != "" {
		m["PATH_INFO"] = s.pathInfo
		m["PATH_TRANSLATED"] = filepath.Join(root, filepath.FromSlash(s.pathInfo))
	}
	if r.RemoteAddr != "" {
		if h, p, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			m["REMOTE_ADDR"], m["REMOTE_PORT"] = h, p
		} else {
			m["REMOTE_ADDR"] = r.RemoteAddr
		}
		if m["REMOTE_HOST"] == "" {
			m["REMOTE_HOST"] = m["REMOTE_ADDR"]
		}
	}
	if r.TLS != nil {
		m["HTTPS"] = "on"
	}
	if r.Host != "" {
		m["HTTP_HOST"] = r.Host
	}
	for k, vs := range r.Header {
		switch k {
		case "Proxy": // httpoxy: HTTP_PROXY would steer the script's HTTP clients
			continue
		case "Content-Type", "Content-Length":
			continue
		}
		sep := ", "
		if k == "Cookie" {
			sep = "; "
		}
		m["HTTP_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))] = strings.Join(vs, sep)
	}
	delete(m, "CONTENT_LENGTH")
	delete(m, "CONTENT_TYPE")
	if r.ContentLength > 0 {
		m["CONTENT_LENGTH"] = strconv.FormatInt(r.ContentLength, 10)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		m["CONTENT_TYPE"] = ct
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}
