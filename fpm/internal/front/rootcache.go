package front

// This file keeps the document root open between requests. Opening it per
// request (os.OpenRoot: open, fstat, close) was 5 % of the master's CPU on
// the front; a stat of its path per request says as much: whether the path
// still names the directory that is open. A deploy that switches a
// symbolic link (current -> releases/N) is seen by the first request after
// the switch, as before.

import (
	"io/fs"
	"os"
	"sync"
)

// rootCache is the open document root and the requests using it.
type rootCache struct {
	mu     sync.Mutex
	cur    *docRoot // nil until the first request, and after close
	closed bool     // after close: roots are opened per request again
}

// acquire returns the root that path names now, opening it when it is not
// the one open; the caller releases it.
func (c *rootCache) acquire(path string) (*docRoot, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "openat", Path: path, Err: fs.ErrInvalid}
	}
	c.mu.Lock()
	if d := c.cur; d != nil && os.SameFile(d.fi, fi) {
		d.refs++
		c.mu.Unlock()
		return d, nil
	}
	c.mu.Unlock()

	r, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	rfi, err := r.Stat(".")
	if err != nil {
		r.Close()
		return nil, err
	}
	d := &docRoot{root: r, dir: path, fi: rfi, cache: c, refs: 2} // the caller's and the cache's
	c.mu.Lock()
	if c.closed { // a request still running after Shutdown: not kept
		d.refs = 1
		c.mu.Unlock()
		return d, nil
	}
	old := c.cur
	c.cur = d
	c.mu.Unlock()
	if old != nil {
		old.Close() // the cache's reference
	}
	return d, nil
}

// close drops the cache's reference to the open root: it is closed once
// the requests using it are done.
func (c *rootCache) close() {
	c.mu.Lock()
	old := c.cur
	c.cur, c.closed = nil, true
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// release drops one reference to d, closing it with the last.
func (c *rootCache) release(d *docRoot) {
	c.mu.Lock()
	d.refs--
	last := d.refs == 0
	c.mu.Unlock()
	if last {
		d.root.Close()
	}
}
