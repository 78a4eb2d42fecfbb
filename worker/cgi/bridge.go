// Package cgi is the CGI bridge: a FastCGI responder that runs CGI scripts
// (RFC 3875) under a document root, the job fcgiwrap does, served with
// worker.Serve like any other Go worker. The master starts it (gofpm worker
// cgi) for pools with worker = "cgi" and configures it with the
// environment variables proto.EnvCGIRoot, proto.EnvCGIExtensions and
// proto.EnvCGITimeout.
package cgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	stdfcgi "net/http/fcgi"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofpm/gofpm/worker/proto"
)

// Config configures NewBridge.
type Config struct {
	// Root is the document root. Scripts must resolve, symbolic links
	// included, to a file inside it (Root itself is resolved per request,
	// so a "current" symlink swapped by a deploy is followed).
	Root string
	// Extensions limits the scripts that may run by their extension
	// (".cgi"), like php-fpm's security.limit_extensions; empty allows any
	// executable file.
	Extensions []string
	// Timeout is the per-request limit; 0 is none. On expiry the script's
	// process group is killed and, if nothing was sent yet, the answer is
	// 504.
	Timeout time.Duration
}

// ConfigFromEnv reads the bridge's configuration from GOFPM_CGI_ROOT,
// GOFPM_CGI_EXTENSIONS and GOFPM_CGI_TIMEOUT.
func ConfigFromEnv() (Config, error) {
	var c Config
	root := os.Getenv(proto.EnvCGIRoot)
	if root == "" {
		return c, fmt.Errorf("%s is not set", proto.EnvCGIRoot)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return c, fmt.Errorf("%s: %w", proto.EnvCGIRoot, err)
	}
	c.Root = abs
	for _, e := range strings.Split(os.Getenv(proto.EnvCGIExtensions), ",") {
		if e = strings.TrimSpace(e); e != "" {
			if !strings.HasPrefix(e, ".") {
				e = "." + e
			}
			c.Extensions = append(c.Extensions, e)
		}
	}
	if s := strings.TrimSpace(os.Getenv(proto.EnvCGITimeout)); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			n, nerr := strconv.ParseFloat(s, 64)
			if nerr != nil {
				return c, fmt.Errorf("%s: %q is not a duration", proto.EnvCGITimeout, s)
			}
			d = time.Duration(n * float64(time.Second))
		}
		if d < 0 {
			return c, fmt.Errorf("%s: %q is negative", proto.EnvCGITimeout, s)
		}
		c.Timeout = d
	}
	return c, nil
}

// NewBridge returns a handler that runs the CGI script a request names.
//
// The script is SCRIPT_FILENAME when the web server sends it, else Root
// plus the request path. When that path continues past a file
// (/x.cgi/extra), the file is the script and the rest is PATH_INFO. The
// answers follow php-fpm: 403 "Access denied." for a script outside Root
// (after resolving symbolic links), a ".." segment, a directory, a
// non-executable file or an extension not in Extensions; 404 "File not
// found." for a missing one.
//
// Each script runs in its own process group, with stdin the request body,
// its stderr the worker's (which the master logs with catch_workers_output)
// and its environment the worker's own (without GOFPM_* variables), the
// RFC 3875 variables of the request, its headers as HTTP_* and a few
// well-known params (see fromParams), never other FastCGI params. The
// header block the script prints (Status, Location, Content-Type, others)
// becomes the response's; the rest streams as the body. A Location without
// Status answers 302. The request lasts until the script exits. On
// timeout or when the client goes away, the whole process group is
// killed; when the script exits, what is left of its group is killed too;
// and a script dies with its worker.
func NewBridge(c Config) http.Handler {
	return &bridge{cfg: c, stderr: os.Stderr, waitDelay: time.Second}
}

type bridge struct {
	cfg       Config
	stderr    io.Writer     // the scripts' stderr and the bridge's log lines
	waitDelay time.Duration // how long to wait for output after a kill
}

var (
	errCGITimeout = errors.New("cgi: timeout")
	errCGIClient  = errors.New("cgi: client gone")
	errCGIHeader  = errors.New("cgi: bad header")
)

func (b *bridge) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "gofpm cgi: "+format+"\n", args...)
}

func accessDenied(w http.ResponseWriter) { http.Error(w, "Access denied.", http.StatusForbidden) }
func fileNotFound(w http.ResponseWriter) { http.Error(w, "File not found.", http.StatusNotFound) }

// hasDotDot reports whether a slash-separated path has a ".." segment.
func hasDotDot(p string) bool {
	for _, s := range strings.Split(p, "/") {
		if s == ".." {
			return true
		}
	}
	return false
}

// within reports whether p is dir or below it (both clean and absolute).
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// script is what a request resolves to.
type script struct {
	name     string // the script's path as named (SCRIPT_FILENAME)
	resolved string // with symbolic links resolved; what runs
	pathInfo string // what follows the script in the path; "" or "/..."
}

// splitScript finds the first file along target below base: the file is
// the script and the rest of target is PATH_INFO. status is 0 on success,
// else the HTTP status to answer.
func splitScript(base, target string) (name, pathInfo string, status int) {
	rest := strings.TrimPrefix(strings.TrimPrefix(target, base), "/")
	if rest == "" {
		return "", "", http.StatusForbidden // the root itself: a directory
	}
	comps := strings.Split(rest, "/")
	p := base
	for i, c := range comps {
		if c == "" {
			continue
		}
		p = filepath.Join(p, c)
		fi, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return "", "", http.StatusNotFound
			}
			return "", "", http.StatusForbidden
		}
		if fi.IsDir() {
			continue
		}
		if !fi.Mode().IsRegular() {
			return "", "", http.StatusForbidden
		}
		if i+1 < len(comps) {
			pathInfo = "/" + strings.Join(comps[i+1:], "/")
		}
		return p, pathInfo, 0
	}
	return "", "", http.StatusForbidden // ends on a directory
}

// locate maps the request to its script, or answers the error itself.
func (b *bridge) locate(w http.ResponseWriter, r *http.Request, params map[string]string) (*script, bool) {
	rawRoot, err := filepath.Abs(b.cfg.Root)
	if err != nil || b.cfg.Root == "" {
		b.logf("document root %q: %v", b.cfg.Root, err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return nil, false
	}
	root, err := filepath.EvalSymlinks(rawRoot)
	if err != nil {
		b.logf("document root: %v", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return nil, false
	}
	urlPath := r.URL.Path
	if hasDotDot(urlPath) {
		accessDenied(w)
		return nil, false
	}
	var base, target string
	if sf := params["SCRIPT_FILENAME"]; sf != "" {
		if !filepath.IsAbs(sf) || hasDotDot(filepath.ToSlash(sf)) {
			accessDenied(w)
			return nil, false
		}
		target = filepath.Clean(sf)
		switch {
		case within(rawRoot, target):
			base = rawRoot
		case within(root, target):
			base = root
		default:
			b.logf("%s: outside the document root %s", sf, rawRoot)
			accessDenied(w)
			return nil, false
		}
	} else {
		base, target = rawRoot, filepath.Join(rawRoot, filepath.FromSlash(urlPath))
	}
	name, pathInfo, status := splitScript(base, target)
	switch status {
	case 0:
	case http.StatusNotFound:
		fileNotFound(w)
		return nil, false
	default:
		accessDenied(w)
		return nil, false
	}
	if pathInfo == "" && params["SCRIPT_FILENAME"] != "" {
		// The web server split the path itself: PATH_INFO is what the
		// request path has past the same script (its PATH_INFO parameter
		// is not kept by net/http/fcgi).
		if n2, pi2, st := splitScript(rawRoot, filepath.Join(rawRoot, filepath.FromSlash(urlPath))); st == 0 && pi2 != "" {
			if a, err1 := os.Stat(n2); err1 == nil {
				if c, err2 := os.Stat(name); err2 == nil && os.SameFile(a, c) {
					pathInfo = pi2
				}
			}
		}
	}
	resolved, err := filepath.EvalSymlinks(name)
	if err != nil {
		fileNotFound(w)
		return nil, false
	}
	if !within(root, resolved) || resolved == root {
		b.logf("%s: resolves to %s, outside the document root %s", name, resolved, root)
		accessDenied(w)
		return nil, false
	}
	if len(b.cfg.Extensions) > 0 {
		ext, ok := filepath.Ext(name), false
		for _, e := range b.cfg.Extensions {
			if ext == e {
				ok = true
				break
			}
		}
		if !ok {
			b.logf("Access to the script '%s' has been denied (see security.limit_extensions)", name)
			accessDenied(w)
			return nil, false
		}
	}
	fi, err := os.Stat(resolved)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		b.logf("%s: not an executable file", name)
		accessDenied(w)
		return nil, false
	}
	return &script{name: name, resolved: resolved, pathInfo: pathInfo}, true
}

func (b *bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	params := stdfcgi.ProcessEnv(r)
	s, ok := b.locate(w, r, params)
	if !ok {
		return
	}

	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	if b.cfg.Timeout > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeoutCause(ctx, b.cfg.Timeout, errCGITimeout)
		defer c()
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		b.logf("%s: %v", s.name, err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	defer pr.Close()
	cmd := &exec.Cmd{
		Path:        s.resolved,
		Args:        []string{s.name},
		Dir:         filepath.Dir(s.resolved),
		Env:         b.env(r, params, s),
		Stdout:      pw,
		Stderr:      b.stderr,
		SysProcAttr: scriptSysProcAttr(),
		WaitDelay:   b.waitDelay,
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		cmd.Stdin = r.Body
	}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		b.logf("%s: %v", s.name, err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	pgid := cmd.Process.Pid
	killed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(killed)
		syscall.Kill(-pgid, syscall.SIGKILL)
		// A process that left the group may still hold stdout.
		pr.SetReadDeadline(time.Now().Add(b.waitDelay))
	})
	// wait ends the script's run. The script's end of stdout is not its
	// end: one that closed stdout and went on runs until it exits, and
	// the timeout (and the client's going away) still kill it. Once the
	// script has exited, what is left of its process group (background
	// jobs) is killed too, before the script is reaped: until then its
	// pid, the group's id, cannot name another group.
	wait := func() error {
		waitExited(pgid)
		if !stop() {
			<-killed
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
		pr.Close()
		return cmd.Wait()
	}

	br := bufio.NewReaderSize(pr, 4096)
	status, herr := readCGIHeader(br, w.Header())
	if herr != nil {
		if ctx.Err() == nil {
			cancel(errCGIHeader) // the answer is a 500: the script goes
		}
		werr := wait()
		switch cause := context.Cause(ctx); cause {
		case errCGITimeout:
			b.logf("%s: execution timed out (%s), process group killed", s.name, b.cfg.Timeout)
			http.Error(w, "Gateway Timeout", http.StatusGatewayTimeout)
		case errCGIHeader:
			b.logf("%s: bad CGI header (%v), exit: %v", s.name, herr, werr)
			clearHeader(w.Header())
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		default: // the client went away
		}
		return
	}
	w.WriteHeader(status)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				cancel(errCGIClient)
				break
			}
			if flusher != nil && br.Buffered() == 0 {
				flusher.Flush()
			}
		}
		if err != nil {
			break
		}
	}
	werr := wait()
	if context.Cause(ctx) == errCGITimeout {
		b.logf("%s: execution timed out (%s), process group killed", s.name, b.cfg.Timeout)
	} else if werr != nil && ctx.Err() == nil {
		b.logf("%s: %v", s.name, werr)
	}
}

func clearHeader(h http.Header) {
	for k := range h {
		delete(h, k)
	}
}

// readCGIHeader reads the script's header block into h and returns the
// status: from Status, else 302 with a Location, else 200.
func readCGIHeader(br *bufio.Reader, h http.Header) (int, error) {
	status := 0
	for n := 0; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if n > 1000 || len(line) > 16<<10 {
			return 0, errors.New("header too large")
		}
		k, v, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return 0, fmt.Errorf("bad header line %q", line)
		}
		v = strings.TrimSpace(v)
		if http.CanonicalHeaderKey(k) == "Status" {
			code, _, _ := strings.Cut(v, " ")
			c, err := strconv.Atoi(code)
			if err != nil || c < 100 || c > 999 {
				return 0, fmt.Errorf("bad Status %q", v)
			}
			status = c
			continue
		}
		h.Add(k, v)
	}
	if status == 0 {
		status = http.StatusOK
		if h.Get("Location") != "" {
			status = http.StatusFound
		}
	}
	return status, nil
}
