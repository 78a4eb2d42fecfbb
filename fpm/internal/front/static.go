package front

// This file is the document root as the front sees it, and serves static
// files from it. Files are looked up through os.Root, which follows a
// symbolic link only while it stays inside the root (and refuses absolute
// links), so no path, link or race leads outside it; with
// follow_symlinks_outside_root the plain file system is used instead.

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// docRoot is the document root as one request sees it: the directory its
// path named when the request came (rootcache.go), so a root that is a
// symbolic link switched by a deploy (current -> releases/N) stays current.
type docRoot struct {
	root *os.Root // nil with follow_symlinks_outside_root
	dir  string

	// With root: its identity, and the references of the cache and of the
	// requests using it (under cache.mu).
	fi    fs.FileInfo
	cache *rootCache
	refs  int
}

// fileAt is an open static file.
type fileAt struct {
	f  *os.File
	fi fs.FileInfo
}

// openRoot opens the document root.
func (s *Server) openRoot() (*docRoot, error) {
	if s.opts.FollowSymlinksOutsideRoot {
		fi, err := os.Stat(s.opts.Root)
		if err == nil && !fi.IsDir() {
			err = &fs.PathError{Op: "open", Path: s.opts.Root, Err: fs.ErrInvalid}
		}
		if err != nil {
			return nil, err
		}
		if s.rootFailing.Load() {
			s.rootFailing.Store(false)
		}
		return &docRoot{dir: s.opts.Root}, nil
	}
	d, err := s.roots.acquire(s.opts.Root)
	if err != nil {
		return nil, err
	}
	if s.rootFailing.Load() {
		s.rootFailing.Store(false)
	}
	return d, nil
}

// rootFailed logs that the document root cannot be opened, once until it
// can be again: every request would say the same.
func (s *Server) rootFailed(err error) {
	if !s.rootFailing.Swap(true) {
		s.log.Error().Err(err).Str("root", s.opts.Root).Msgf("http: document root: %v", err)
	}
}

// Close releases the root; files opened from it stay open.
func (d *docRoot) Close() {
	if d.cache != nil {
		d.cache.release(d)
	}
}

// rel is a clean URL path as a path relative to the root.
func rel(clean string) string {
	if r := strings.TrimPrefix(clean, "/"); r != "" {
		return filepath.FromSlash(r)
	}
	return "."
}

// stat follows symbolic links, inside the root only (unless
// follow_symlinks_outside_root).
func (d *docRoot) stat(clean string) (fs.FileInfo, error) {
	if d.root == nil {
		return os.Stat(filepath.Join(d.dir, rel(clean)))
	}
	return d.root.Stat(rel(clean))
}

// open opens a regular file for serving.
func (d *docRoot) open(clean string) (*fileAt, error) {
	var f *os.File
	var err error
	if d.root == nil {
		f, err = os.Open(filepath.Join(d.dir, rel(clean)))
	} else {
		f, err = d.root.Open(rel(clean))
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() { // replaced since the stat
		f.Close()
		return nil, fs.ErrNotExist
	}
	return &fileAt{f: f, fi: fi}, nil
}

// serveStatic answers with the file (ranges, conditional requests and
// HEAD as net/http does them) and closes it.
func serveStatic(w http.ResponseWriter, r *http.Request, f *fileAt) {
	defer f.f.Close()
	http.ServeContent(w, r, f.fi.Name(), f.fi.ModTime(), f.f)
}
