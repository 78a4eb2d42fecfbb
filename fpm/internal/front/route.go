package front

// This file routes a request: the master's own pages first (pages.go),
// then a pool by path prefix; and maps the path onto the document root as
// nginx's try_files and fastcgi_split_path_info do, without ever leaving
// the root.

import (
	"context"
	"net/http"
	"path"
	"slices"
	"strings"
)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A NUL byte would cut the path short in C code (php-cgi), and no
	// file name holds one.
	if strings.IndexByte(r.URL.Path, 0) >= 0 {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	// Clean resolves "." and ".." and merges slashes after percent
	// decoding, so "/..%2f..%2fetc/passwd" is "/etc/passwd" under root.
	clean := r.URL.Path
	if !strings.HasPrefix(clean, "/") {
		clean = "/" + clean
	}
	clean = path.Clean(clean) // allocates nothing for a path that is clean
	// The client behind a trusted proxy, before the pages' allow list and
	// the access log see r.
	remote, https := s.clientOf(r)
	if remote != "" {
		r2 := *r
		r2.RemoteAddr = remote
		r = &r2
	}
	if s.ownPage(w, r, clean) {
		return
	}
	u := s.route(clean)
	if u == nil {
		http.NotFound(w, r)
		return
	}
	if u.guarded(clean) && !s.pageAllowed(r) {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	res := s.resolve(u, clean)
	switch {
	case res.notFound:
		http.NotFound(w, r)
		return
	case res.forbidden:
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	case res.static != nil:
		serveStatic(w, r, res.static)
		return
	}
	fr := &frontReq{u: u, clean: clean, https: https, script: res.script, pathInfo: res.pathInfo}
	if u.access != nil {
		u.access.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), frontReqKey{}, fr)))
		return
	}
	s.passTo(w, r, fr)
}

// frontReq is what ServeHTTP learnt of a request, for passTo; it rides in
// the request's context through the access-log wrapper.
type frontReq struct {
	u      *upstream
	clean  string // the cleaned URL path
	https  bool   // a trusted proxy said the client used https
	logged bool   // the worker wrote the access line
	// script is SCRIPT_NAME (a path under root) and pathInfo PATH_INFO,
	// as resolve found them.
	script, pathInfo string
}

type frontReqKey struct{}

// workerLogged reports whether the worker wrote the access line of a
// request that went through the access-log wrapper.
func workerLogged(r *http.Request) bool {
	return r.Context().Value(frontReqKey{}).(*frontReq).logged
}

// route picks the pool for a path: the longest route prefix that matches
// at a path boundary, else the default pool; nil when neither.
func (s *Server) route(clean string) *upstream {
	for _, rt := range s.routes {
		p := strings.TrimSuffix(rt.Prefix, "/")
		if clean == p || strings.HasPrefix(clean, p+"/") || p == "" {
			return s.byName[rt.Pool]
		}
	}
	return s.def
}

// resolved is what a path is under the document root, for one pool.
type resolved struct {
	notFound  bool
	forbidden bool    // a directory without an index file, as nginx answers it
	static    *fileAt // a file to serve; the caller closes it
	// script (SCRIPT_NAME) and pathInfo (PATH_INFO) of a request for the
	// pool.
	script, pathInfo string
	lookups          int // files looked up for the PATH_INFO split (tests bound it)
}

var notFound = resolved{notFound: true}

// resolve maps a clean request path onto the document root for the pool
// u, as nginx's try_files and fastcgi_split_path_info do.
//
// For a pool that runs scripts (php-cgi, the CGI bridge) a request reaches
// the pool only for a script that exists: a regular file under root with
// one of the pool's extensions, the path itself, a directory's index file,
// or the longest leading part of the path (the rest is PATH_INFO:
// /a.php/x). Anything else is a static file or 404. So
// /uploads/evil.jpg/x.php never reaches php-cgi: no leading part of it is
// a script.
//
// For an application pool (a Go, C, Perl worker), an existing file that is
// not a script is served as a file, and every other path goes to the pool
// as it is (try_files $uri @app).
//
// Either way the file is looked up through os.Root: nothing outside root
// is ever served or passed, symbolic links included, unless
// follow_symlinks_outside_root; and a path with a part starting with "."
// is not a file (404) unless serve_dotfiles or under /.well-known/.
func (s *Server) resolve(u *upstream, clean string) resolved {
	if s.opts.Root == "" { // application pools only: Load refuses script pools without a root
		if u.scripts {
			return notFound
		}
		return resolved{script: clean}
	}
	root, err := s.openRoot()
	if err != nil {
		s.rootFailed(err)
		if u.scripts {
			return notFound
		}
		return resolved{script: clean}
	}
	defer root.Close()
	if fi, err := root.stat(clean); err == nil {
		switch {
		case fi.IsDir():
			for _, idx := range s.opts.Index {
				p := path.Join(clean, idx)
				if st, err := root.stat(p); err == nil && st.Mode().IsRegular() {
					return s.file(u, root, p)
				}
			}
		case fi.Mode().IsRegular():
			return s.file(u, root, clean)
		}
		switch {
		case !u.scripts:
			return resolved{script: clean}
		case fi.IsDir() && (s.opts.ServeDotfiles || !isDotPath(clean)):
			return resolved{forbidden: true} // no index file
		}
		return notFound // a device, a fifo; a hidden folder
	}
	// PATH_INFO: the longest leading part that is an existing script file.
	// The split happens on "/" boundaries of a cleaned path, not with a
	// pattern a "%0a" can cut short, so PATH_INFO always starts with "/"
	// and the CVE-2019-11043 trick of an empty PATH_INFO does not apply (a
	// newline stays part of a name that is looked up as it is).
	//
	// The parts are tried from the shortest: only a folder can have a
	// longer part under it, so the first regular file is the longest one,
	// and the walk stops at the first part that is missing or not a
	// folder. From the longest, a 64 KiB path of "/x.php" parts cost
	// 10,000 lookups, each as long as the path (2 s of the master's CPU).
	lookups := 1
	for i := 1; i < len(clean); i++ {
		if clean[i] != '/' {
			continue
		}
		head := clean[:i]
		if u.scripts && !u.runs(head) || !u.scripts && !s.isScript(head) {
			continue
		}
		lookups++
		st, err := root.stat(head)
		if err != nil {
			break // nothing longer exists either
		}
		if st.Mode().IsRegular() {
			res := s.file(u, root, head)
			if !res.notFound {
				res.pathInfo = clean[i:]
			}
			res.lookups = lookups
			return res
		}
		if !st.IsDir() {
			break
		}
	}
	if u.scripts {
		return resolved{notFound: true, lookups: lookups}
	}
	return resolved{script: clean, lookups: lookups}
}

// file decides about an existing regular file p: run it, serve it, or 404.
// A script is never served as a file, even to a pool that may not run it.
func (s *Server) file(u *upstream, root *docRoot, p string) resolved {
	if !s.opts.ServeDotfiles && isDotPath(p) {
		return notFound
	}
	switch {
	case u.scripts && u.runs(p), !u.scripts && s.isScript(p):
		return resolved{script: p}
	case s.isScript(p):
		return notFound
	}
	f, err := root.open(p)
	if err != nil {
		return notFound
	}
	return resolved{static: f}
}

// runs reports whether the pool u may run the file p: its extension is
// one of the pool's (exactly, as php-fpm compares), or the pool has none
// (the CGI bridge without security_limit_extensions runs any file).
func (u *upstream) runs(p string) bool {
	return len(u.exts) == 0 || slices.Contains(u.exts, path.Ext(p))
}

// isScript reports whether a path names a script of some pool rather than
// a file to serve: .php, or an extension in any pool's
// security_limit_extensions, in any case (A.PHP is not served as text).
func (s *Server) isScript(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".php" || slices.ContainsFunc(s.opts.ScriptExtensions, func(e string) bool { return strings.EqualFold(e, ext) })
}

// isDotPath reports whether a clean path has a part starting with "."
// (/.env, /.git/config, /a/.htpasswd), the first part .well-known aside
// (RFC 8615: ACME challenges, security.txt).
func isDotPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/.well-known/")
	if !ok {
		rest = p
	}
	return strings.Contains("/"+rest, "/.")
}
