package front

import "testing"

// BenchmarkResolve: the cost of mapping a path onto the document root per
// request (os.Root opened per request, lookups beneath it), against the
// plain file system (follow_symlinks_outside_root).
func BenchmarkResolve(b *testing.B) {
	root := docTree(b, map[string]string{"index.php": "", "info.php": "", "style.css": "css", "uploads/evil.jpg": ""})
	php := &upstream{name: "php", scripts: true, exts: []string{".php"}}
	for _, follow := range []bool{false, true} {
		s := &Server{opts: Options{Root: root, Index: []string{"index.php"}, FollowSymlinksOutsideRoot: follow}}
		mode := "os.Root"
		if follow {
			mode = "plain"
		}
		for _, p := range []string{"/index.php", "/", "/info.php/a/b", "/style.css", "/uploads/evil.jpg/x.php"} {
			b.Run(mode+p, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if res := s.resolve(php, p); res.static != nil {
						res.static.f.Close()
					}
				}
			})
		}
	}
}
