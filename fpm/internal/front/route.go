package front

// This file routes a request: the master's own pages first, then a pool by
// path prefix, and maps the path onto the document root as nginx's
// try_files and fastcgi_split_path_info do.

import (
	"context"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// metricsPath is where the front serves the metrics.
const metricsPath = "/metrics"

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	clean := path.Clean("/" + r.URL.Path)
	if clean == metricsPath && s.opts.Metrics != nil {
		s.opts.Metrics.ServeHTTP(w, r)
		return
	}
	if p := s.pages; p != nil && clean != "/" && (clean == p.StatusPath || clean == p.PingPath) {
		s.servePage(w, r, clean)
		return
	}
	if p := s.pages; p != nil && p.Dashboard != nil && clean == p.DashboardPath {
		p.Dashboard.ServeHTTP(w, r)
		return
	}
	u := s.route(clean)
	if u == nil {
		http.NotFound(w, r)
		return
	}
	// The client behind a trusted proxy, before the access log sees r.
	remote, https := s.clientOf(r)
	if remote != "" {
		r2 := *r
		r2.RemoteAddr = remote
		r = &r2
	}
	if u.access != nil {
		fr := &frontReq{u: u, clean: clean, https: https}
		u.access.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), frontReqKey{}, fr)))
		return
	}
	fr := frontReq{u: u, clean: clean, https: https}
	s.passTo(w, r, &fr)
}

// frontReq is what ServeHTTP learnt of a request, for passTo; it rides in
// the request's context through the access-log wrapper.
type frontReq struct {
	u      *upstream
	clean  string // the cleaned URL path
	https  bool   // a trusted proxy said the client used https
	logged bool   // the worker wrote the access line
}

type frontReqKey struct{}

// workerLogged reports whether the worker wrote the access line of a
// request that went through the access-log wrapper.
func workerLogged(r *http.Request) bool {
	return r.Context().Value(frontReqKey{}).(*frontReq).logged
}

// servePage answers the default pool's status or ping page from the master,
// so it answers even when every worker is busy.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, name string) {
	status, header, body := s.pages.Page(map[string]string{
		"REQUEST_METHOD": r.Method, "SCRIPT_NAME": name, "SCRIPT_FILENAME": name,
		"QUERY_STRING": r.URL.RawQuery,
	}, time.Now())
	for _, line := range header {
		if k, v, ok := strings.Cut(line, ":"); ok {
			w.Header().Add(k, strings.TrimSpace(v)) // canonical case: net/http looks for Content-Type
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(body)
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

// resolve maps a clean request path onto the document root, as nginx's
// try_files and fastcgi_split_path_info do: an existing file that is not a
// script is served as a file (static); a directory with an index file runs
// the index; a path that continues past a script file (/a.php/x) runs the
// script with PATH_INFO /x. Without a document root every path goes to
// the pool as it is.
func (s *Server) resolve(clean string) (script, pathInfo, static string) {
	root := s.opts.Root
	if root == "" {
		return clean, "", ""
	}
	full := filepath.Join(root, filepath.FromSlash(clean))
	if fi, err := os.Stat(full); err == nil {
		if fi.IsDir() {
			for _, idx := range s.opts.Index {
				if st, err := os.Stat(filepath.Join(full, idx)); err == nil && st.Mode().IsRegular() {
					return path.Join(clean, idx), "", ""
				}
			}
			return clean, "", ""
		}
		if fi.Mode().IsRegular() && !s.isScript(clean) {
			return "", "", full
		}
		return clean, "", ""
	}
	// PATH_INFO: the longest leading part that is an existing script file.
	// The split happens on "/" boundaries of a cleaned path (no newline can
	// reach here: EnvFromRequest refuses control characters), so the
	// CVE-2019-11043 trick of an empty PATH_INFO through "%0a" does not apply.
	for i := len(clean) - 1; i > 0; i-- {
		if clean[i] != '/' {
			continue
		}
		head := clean[:i]
		if !s.isScript(head) {
			continue
		}
		if st, err := os.Stat(filepath.Join(root, filepath.FromSlash(head))); err == nil && st.Mode().IsRegular() {
			return head, clean[i:], ""
		}
	}
	return clean, "", ""
}

// isScript reports whether a path names a script for the pools rather than
// a file to serve: .php, or an extension in any pool's
// security_limit_extensions.
func (s *Server) isScript(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".php" || slices.Contains(s.opts.ScriptExtensions, ext)
}
