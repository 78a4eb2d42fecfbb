package front

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// release makes a release folder with one script, and returns its path.
func release(t *testing.T, dir, name, script string) string {
	t.Helper()
	p := filepath.Join(dir, "releases", name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, script), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// switchLink points link at target atomically, as deploy tools do (a new
// link renamed over the old one).
func switchLink(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + ".new"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// twoReleases makes releases 1 (one.php) and 2 (two.php) in a new folder
// dir, with current linked to 1.
func twoReleases(t *testing.T) (dir, r2, current string) {
	t.Helper()
	dir = t.TempDir()
	r1 := release(t, dir, "1", "one.php")
	r2 = release(t, dir, "2", "two.php")
	current = filepath.Join(dir, "current")
	switchLink(t, r1, current)
	return dir, r2, current
}

// TestRootFollowsDeploySwitch: the root is kept open between requests,
// but a request after the symbolic link of the root was switched sees the
// new release, and one after the root is gone sees nothing.
func TestRootFollowsDeploySwitch(t *testing.T) {
	dir, r2, current := twoReleases(t)
	php := &upstream{name: "php", scripts: true, exts: []string{".php"}}
	s := &Server{opts: Options{Root: current, Index: []string{"index.php"}}}
	defer s.roots.close()

	want := func(p string, found bool) {
		t.Helper()
		res := s.resolve(php, p)
		if res.notFound == found {
			t.Fatalf("%s: notFound = %v, want %v", p, res.notFound, !found)
		}
	}
	want("/one.php", true)
	first := s.roots.cur
	want("/one.php", true)
	if s.roots.cur != first {
		t.Fatal("the root was opened again although its path still names it")
	}
	if first.refs != 1 {
		t.Fatalf("refs = %d after the requests, want the cache's 1", first.refs)
	}

	switchLink(t, r2, current)
	want("/one.php", false)
	want("/two.php", true)
	if s.roots.cur == first {
		t.Fatal("the old release is still the root")
	}
	if _, err := first.root.Stat("."); err == nil {
		t.Fatal("the old release's root was not closed once unused")
	}

	// The same folder renamed into place (mv -T new current) is a new root.
	if err := os.Remove(current); err != nil {
		t.Fatal(err)
	}
	r3 := release(t, dir, "3", "three.php")
	if err := os.Rename(r3, current); err != nil {
		t.Fatal(err)
	}
	want("/two.php", false)
	want("/three.php", true)

	// Gone: nothing is served from the last root still open.
	if err := os.RemoveAll(current); err != nil {
		t.Fatal(err)
	}
	want("/three.php", false)
}

// TestRootHeldWhileInUse: a root that is replaced while a request still
// uses it stays open for that request and is closed by its release.
func TestRootHeldWhileInUse(t *testing.T) {
	_, r2, current := twoReleases(t)
	var c rootCache
	defer c.close()

	d1, err := c.acquire(current)
	if err != nil {
		t.Fatal(err)
	}
	switchLink(t, r2, current)
	d2, err := c.acquire(current)
	if err != nil {
		t.Fatal(err)
	}
	if d1 == d2 {
		t.Fatal("the switch was not seen")
	}
	if _, err := d1.stat("/one.php"); err != nil {
		t.Fatalf("the replaced root was closed under its request: %v", err)
	}
	d1.Close()
	if _, err := d1.root.Stat("."); err == nil {
		t.Fatal("the replaced root stayed open after its last request")
	}
	d2.Close()
	if _, err := d2.root.Stat("."); err != nil {
		t.Fatalf("the current root was closed: %v", err)
	}
}

// TestRootConcurrentSwitch: requests on many goroutines while the link
// switches back and forth (for the race detector: refs and closes).
func TestRootConcurrentSwitch(t *testing.T) {
	dir := t.TempDir()
	rels := []string{release(t, dir, "1", "a.php"), release(t, dir, "2", "a.php")}
	current := filepath.Join(dir, "current")
	switchLink(t, rels[0], current)
	var c rootCache
	defer c.close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := c.acquire(current)
				if err != nil {
					continue // between the remove and the rename of a switch: not here (rename is atomic)
				}
				if _, err := d.stat("/a.php"); err != nil {
					errs <- err
					d.Close()
					return
				}
				d.Close()
			}
		})
	}
	for i := range 200 {
		switchLink(t, rels[i%2], current)
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("a request's root was closed under it: %v", err)
	default:
	}
}

// TestRootAfterClose: a request still running after Shutdown gets a root
// of its own, closed by its release: none is kept open by a closed cache.
func TestRootAfterClose(t *testing.T) {
	dir := t.TempDir()
	current := filepath.Join(dir, "current")
	switchLink(t, release(t, dir, "1", "a.php"), current)
	var c rootCache
	d, err := c.acquire(current)
	if err != nil {
		t.Fatal(err)
	}
	c.close()
	if _, err := d.stat("/a.php"); err != nil {
		t.Fatalf("the root of a request under way was closed by close: %v", err)
	}
	d.Close()
	late, err := c.acquire(current)
	if err != nil {
		t.Fatal(err)
	}
	if c.cur != nil {
		t.Fatal("a closed cache kept a root")
	}
	late.Close()
	if _, err := late.root.Stat("."); err == nil {
		t.Fatal("a root opened after close stayed open after its release")
	}
}
