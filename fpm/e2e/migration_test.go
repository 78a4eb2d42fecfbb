package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// migrationDoc is docs/migration.md's "Step by step", cut into its
// numbered steps (text without the list's indentation).
type migrationDoc struct {
	t       *testing.T
	steps   map[int]string
	covered map[int]bool
}

func readMigrationDoc(t *testing.T) *migrationDoc {
	t.Helper()
	b, err := os.ReadFile("../../docs/migration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, walk, ok := strings.Cut(string(b), "\n## Step by step\n")
	if !ok {
		t.Fatal("docs/migration.md has no \"## Step by step\"")
	}
	walk, _, _ = strings.Cut(walk, "\n## ") // the walk ends at the next section
	d := &migrationDoc{t: t, steps: map[int]string{}, covered: map[int]bool{}}
	stepRe := regexp.MustCompile(`^(\d+)\. `)
	n := 0
	for _, l := range strings.Split(walk, "\n") {
		if m := stepRe.FindStringSubmatch(l); m != nil {
			fmt.Sscan(m[1], &n)
			if n != len(d.steps)+1 {
				t.Fatalf("docs/migration.md: step %d follows step %d", n, len(d.steps))
			}
			l = l[len(m[0]):]
		} else if n > 0 && l != "" && !strings.HasPrefix(l, "   ") {
			n = 0 // the list has ended
		}
		if n > 0 {
			d.steps[n] += strings.TrimPrefix(l, "   ") + "\n"
		}
	}
	return d
}

// has fails the test unless step n of the doc says s, and marks the step
// as followed.
func (d *migrationDoc) has(n int, s string) string {
	d.t.Helper()
	if !strings.Contains(d.steps[n], s) {
		d.t.Fatalf("docs/migration.md step %d does not say %q; it says:\n%s", n, s, d.steps[n])
	}
	d.covered[n] = true
	return s
}

// block returns the body of step n's code block in lang.
func (d *migrationDoc) block(n int, lang string) string {
	d.t.Helper()
	_, rest, ok := strings.Cut(d.steps[n], "```"+lang+"\n")
	body, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		d.t.Fatalf("docs/migration.md step %d has no ```%s block", n, lang)
	}
	d.covered[n] = true
	return body
}

// settings returns the lines of a config that are not comments or blank.
func settings(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, ";") && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestMigrationWalk follows docs/migration.md's steps literally, with every
// path of the doc moved into a temp dir: Debian's stock pool.d/www.conf →
// gofpm import-php-fpm → its own socket and a status socket → gofpm check →
// gofpm running the pool (workers as www-data) → nginx with the doc's
// locations → a PHP page and the status page answered through nginx.
func TestMigrationWalk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the walk runs as root, as the doc says (the pool's workers switch to www-data)")
	}
	doc := readMigrationDoc(t)
	dir := shortTempDir(t)
	// The doc's paths, in the temp dir; gofpm is the binary under test.
	at := strings.NewReplacer("/etc/", dir+"/etc/", "/run/", dir+"/run/", "/var/www/html", dir)
	sh := func(n int, line string) string {
		t.Helper()
		doc.has(n, line)
		cmd := exec.Command("/bin/sh", "-ec", at.Replace(line))
		cmd.Env = append(os.Environ(), "PATH="+bins.dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("step %d: %s: %v\n%s", n, at.Replace(line), err, out)
		}
		return string(out)
	}

	// Step 1: php-cgi installed (make deps); gofpm is the binary under
	// test, on PATH.
	doc.has(1, "apt-get install php8.2-cgi")
	doc.has(1, "install -m 0755 bin/gofpm /usr/local/bin/gofpm")
	requirePHPCGI(t)

	// Step 2: Debian's stock www.conf, with its socket in the temp dir,
	// translated. The doc shows its settings and the translation's.
	stock, err := os.ReadFile("../internal/phpimport/testdata/debian/www.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := settings(string(stock)), settings(doc.block(2, "ini")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("step 2: the doc's www.conf settings differ from Debian's stock file:\n%s\nstock:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	wwwConf := at.Replace("/etc/php/8.2/fpm/pool.d/www.conf")
	os.MkdirAll(filepath.Dir(wwwConf), 0o755)
	if err := os.WriteFile(wwwConf, []byte(at.Replace(string(stock))), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(2, "mkdir -p /etc/gofpm")
	sh(2, "gofpm import-php-fpm -o /etc/gofpm/pool.toml /etc/php/8.2/fpm/pool.d/www.conf")
	poolTOML := at.Replace("/etc/gofpm/pool.toml")
	imported, err := os.ReadFile(poolTOML)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := settings(string(imported)), settings(at.Replace(doc.block(2, "toml"))); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("step 2: the translation differs from the doc's:\n%s\ndoc:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Step 3: a socket of its own and a status socket.
	sh(3, "mkdir -p /run/gofpm")
	sh(3, `sed -i 's|^listen = .*|listen = "/run/gofpm/www.sock"|' /etc/gofpm/pool.toml`)
	sh(3, "cat >> /etc/gofpm/pool.toml <<'EOF'\npm_status_path = \"/status\"\npm_status_listen = \"/run/gofpm/www-status.sock\"\nEOF")

	// Step 4: check.
	out := sh(4, "gofpm check -c /etc/gofpm/pool.toml")
	if !strings.Contains(out, "pool www: dynamic, 5 max children") || !strings.Contains(out, "test is successful") {
		t.Fatalf("step 4: gofpm check says:\n%s", out)
	}

	// Step 5: start it (the harness adds --log-format json to read the
	// log, and -R, which changes nothing for a pool that sets user).
	doc.has(5, "gofpm -c /etc/gofpm/pool.toml")
	final, err := os.ReadFile(poolTOML)
	if err != nil {
		t.Fatal(err)
	}
	m := launchMaster(t, dir, string(final))
	m.waitFor("ready to handle connections", 15*time.Second)
	eventually(t, 10*time.Second, "pm_start_servers = 2 workers", func() bool { return len(m.children()) == 2 })
	for _, pid := range m.children() {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if !regexp.MustCompile(`(?m)^Uid:\t33\t33\t33\t33$`).Match(b) {
			t.Errorf("step 5: worker %d does not run as www-data (33):\n%s", pid, b)
		}
	}

	// Step 6: nginx with the doc's locations. Their relative includes
	// (snippets/fastcgi-php.conf, fastcgi.conf) resolve against nginx's
	// configuration folder, as in /etc/nginx.
	nd := filepath.Join(dir, "nginx")
	os.MkdirAll(nd, 0o755)
	for _, f := range []string{"snippets", "fastcgi.conf", "fastcgi_params"} {
		os.Symlink(filepath.Join("/etc/nginx", f), filepath.Join(nd, f))
	}
	locations := doc.block(6, "nginx")
	doc.has(6, "fastcgi_pass unix:/run/gofpm/www.sock;")
	ng := startNginx(t, dir, at.Replace(locations))

	// Step 7: nginx -t && nginx -s reload is the nginx just started; the
	// test page and the status page through it.
	doc.has(7, "nginx -t && nginx -s reload")
	sh(7, `echo '<?php echo "PHP ", PHP_VERSION, " via gofpm\n";' > /var/www/html/gofpm-test.php`)
	doc.has(7, "curl http://localhost/gofpm-test.php")
	code, body := httpGet(t, ng.client, "http://localhost/gofpm-test.php")
	if code != 200 || !regexp.MustCompile(`^PHP 8\.2\.\d+ via gofpm\n$`).MatchString(body) {
		t.Fatalf("step 7: GET /gofpm-test.php through nginx = %d %q", code, body)
	}
	doc.has(7, "curl http://localhost/status")
	code, body = httpGet(t, ng.client, "http://localhost/status")
	if code != 200 || !regexp.MustCompile(`(?m)^pool:\s+www$`).MatchString(body) || !regexp.MustCompile(`(?m)^process manager:\s+dynamic$`).MatchString(body) {
		t.Fatalf("step 7: GET /status through nginx = %d %q", code, body)
	}
	sh(7, "rm /var/www/html/gofpm-test.php")

	// Step 8 stops php-fpm, which this test did not start.
	doc.has(8, "systemctl disable --now php8.2-fpm")

	for n := range doc.steps {
		if !doc.covered[n] {
			t.Errorf("docs/migration.md step %d is not followed by this test", n)
		}
	}
	if len(doc.steps) != 8 {
		t.Errorf("docs/migration.md has %d steps, this test follows 8", len(doc.steps))
	}
}
