package e2e

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// phpSite writes a document root for the front-safety tests under
// dir/www, with files outside it (dir/secret) that no request may reach.
func phpSite(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"www/index.php":     `<?php echo "index\n";`,
		"www/sub/index.php": `<?php echo "sub index\n";`,
		"www/info.php": `<?php echo "script=", $_SERVER["SCRIPT_NAME"], " path_info=", $_SERVER["PATH_INFO"] ?? "",
			" server_name=", $_SERVER["SERVER_NAME"], " fix_pathinfo=", ini_get("cgi.fix_pathinfo"), "\n";`,
		"www/upload.php": `<?php $f = $_FILES["f"] ?? null;
echo "upload ", $f ? $f["size"] . " " . md5_file($f["tmp_name"]) : "none", " name=", $_POST["name"] ?? "", "\n";`,
		"www/static.txt":                     "plain file\n",
		"www/uploads/evil.jpg":               `<?php echo "EVIL RAN";`,
		"www/.env":                           "DB_PASSWORD=hunter2\n",
		"www/.git/config":                    "[core] hunter2\n",
		"www/.well-known/acme-challenge/tok": "acme-token\n",
		"secret/secret.txt":                  "TOP SECRET\n",
		"secret/run.php":                     `<?php echo "OUTSIDE RAN";`,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"www/inside.txt": "static.txt",                            // stays in root: followed
		"www/leak.txt":   "../secret/secret.txt",                  // leaves root
		"www/out":        "../secret",                             // a folder outside root
		"www/abs.txt":    filepath.Join(dir, "secret/secret.txt"), // absolute, outside root
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
}

// frontSafetyConf is a php-cgi pool (default) and a Go pool under /api/go
// behind the front, with only server_name and trusted_proxies set of the
// front's safety keys: everything else is the default.
const frontSafetyConf = `
[pool.php]
listen = "{{DIR}}/php.sock"
command = ["%s"]
worker_graceful_signal = "SIGTERM"
pm = "static"
pm_max_children = 1
pm_status_path = "/status"
ping_path = "/ping"

[pool.go]
listen = "{{DIR}}/go.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
pm_status_path = "/api/go/status"

[http]
listen = "127.0.0.1:0"
root = "{{DIR}}/www"
default_pool = "php"
server_name = "shop.example"
trusted_proxies = ["127.0.0.1"]

[[http.route]]
prefix = "/api/go"
pool = "go"
`

// rawGet sends target as it is (no client-side cleaning of "..", "%2f"
// or "%00") with optional header lines (Host: localhost unless one is a
// Host line) and returns status and body.
func rawGet(t *testing.T, base, target string, header ...string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if !slices.ContainsFunc(header, func(h string) bool { return strings.HasPrefix(h, "Host:") }) {
		header = append(header, "Host: localhost")
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nConnection: close\r\n%s\r\n", target, strings.Join(append(header, ""), "\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFrontSafety: the front as a PHP host, with its defaults, class by
// class of docs/security.md ("HTTP front as a PHP host"); each subtest
// fails against the front before issue 14.
func TestFrontSafety(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	phpSite(t, dir)
	m := startMaster(t, dir, fmt.Sprintf(frontSafetyConf, phpCGI))
	base := m.frontURL()
	www := filepath.Join(dir, "www")
	leaked := func(body string) bool {
		return strings.Contains(body, "TOP SECRET") || strings.Contains(body, "RAN") || strings.Contains(body, "hunter2")
	}

	t.Run("no URL leaves root", func(t *testing.T) {
		for _, tc := range []struct {
			target string
			code   int
		}{
			{"/../secret/secret.txt", 404},
			{"/..%2fsecret%2fsecret.txt", 404},
			{"/%2e%2e/secret/secret.txt", 404},
			{"/leak.txt", 404},          // a link out of root
			{"/out/secret.txt", 404},    // through a linked folder
			{"/out/run.php", 404},       // a script outside root is not run
			{"/out/run.php/x", 404},     // nor as PATH_INFO's script
			{"/abs.txt", 404},           // an absolute link
			{"/info.php%00.txt", 400},   // NUL
			{"/static.txt%00.php", 400}, // NUL
		} {
			if code, body := rawGet(t, base, tc.target); code != tc.code || leaked(body) {
				t.Errorf("GET %s: %d %q, want %d", tc.target, code, body, tc.code)
			}
		}
		if code, body := rawGet(t, base, "/inside.txt"); code != 200 || body != "plain file\n" {
			t.Errorf("a link inside root: %d %q", code, body)
		}
	})

	t.Run("only existing scripts reach php-cgi", func(t *testing.T) {
		// The cgi.fix_pathinfo trap: no leading part of the path is a
		// script, so the request never reaches php-cgi, which would run
		// evil.jpg, the nearest existing file.
		for _, target := range []string{"/uploads/evil.jpg/x.php", "/uploads/evil.jpg/.php", "/missing.php", "/missing.php/x"} {
			if code, body := rawGet(t, base, target); code != 404 || leaked(body) || strings.Contains(body, "No input file") {
				t.Errorf("GET %s: %d %q, want the front's 404", target, code, body)
			}
		}
		if code, body := rawGet(t, base, "/uploads/evil.jpg"); code != 200 || body != `<?php echo "EVIL RAN";` {
			t.Errorf("the upload as a file: %d %q", code, body)
		}
		// A web server that passes such a path anyway (nginx's
		// "location ~ \.php$" without try_files): php-cgi runs with
		// cgi.fix_pathinfo=0, so it runs SCRIPT_FILENAME or nothing.
		code, body := fcgiGet(t, filepath.Join(dir, "php.sock"), "/uploads/evil.jpg/x.php",
			"SCRIPT_FILENAME", filepath.Join(www, "uploads/evil.jpg/x.php"), "DOCUMENT_ROOT", www)
		if strings.Contains(body, "EVIL RAN") || code != 404 {
			t.Errorf("php-cgi ran the file before the script name: %d %q", code, body)
		}
		if _, body := rawGet(t, base, "/info.php"); !strings.Contains(body, " fix_pathinfo=0") {
			t.Errorf("php-cgi's cgi.fix_pathinfo: %q, want 0", body)
		}
	})

	t.Run("no dotfiles", func(t *testing.T) {
		for _, target := range []string{"/.env", "/.git/config", "/.git/", "/sub/../.env"} {
			if code, body := rawGet(t, base, target); code != 404 || leaked(body) {
				t.Errorf("GET %s: %d %q, want 404", target, code, body)
			}
		}
		if code, body := rawGet(t, base, "/.well-known/acme-challenge/tok"); code != 200 || body != "acme-token\n" {
			t.Errorf("/.well-known/: %d %q", code, body)
		}
	})

	t.Run("pages for pages_allow only", func(t *testing.T) {
		far := "X-Forwarded-For: 203.0.113.7" // the client behind the trusted proxy on 127.0.0.1
		for _, tc := range []struct {
			target string
			header []string
			code   int
		}{
			{"/status", nil, 200},
			{"/status?full", []string{far}, 403},
			{"/status?json", []string{far}, 403},
			{"/status/dashboard", []string{far}, 403},
			{"/api/go/status", nil, 200},           // the Go pool's own page, from its worker
			{"/api/go/status", []string{far}, 403}, // guarded all the same
			{"/ping", []string{far}, 200},          // health checks come from anywhere
		} {
			if code, body := rawGet(t, base, tc.target, tc.header...); code != tc.code {
				t.Errorf("GET %s %v: %d %q, want %d", tc.target, tc.header, code, body, tc.code)
			}
		}
		// No metrics_path: no metrics page; /metrics is a path like any
		// other (no such script: 404).
		if code, body := rawGet(t, base, "/metrics"); code != 404 || strings.Contains(body, "gofpm_") {
			t.Errorf("/metrics without metrics_path: %d %q", code, body)
		}
	})

	t.Run("SERVER_NAME from server_name", func(t *testing.T) {
		for _, host := range []string{"localhost", "evil.example"} {
			if _, body := rawGet(t, base, "/info.php", "Host: "+host); !strings.Contains(body, " server_name=shop.example ") {
				t.Errorf("SERVER_NAME with Host: %s: %q", host, body)
			}
		}
	})

	t.Run("nginx users' cases", func(t *testing.T) {
		for _, tc := range []struct{ target, want string }{
			{"/info.php/extra/path", "script=/info.php path_info=/extra/path "}, // PATH_INFO after an existing script
			{"/", "index\n"},         // index files
			{"/sub/", "sub index\n"}, //
			{"/static.txt", "plain file\n"},
		} {
			if code, body := rawGet(t, base, tc.target); code != 200 || !strings.HasPrefix(body, tc.want) {
				t.Errorf("GET %s: %d %q, want 200 %q...", tc.target, code, body, tc.want)
			}
		}
		// An upload through POST (multipart, as a browser form sends it).
		payload := bytes.Repeat([]byte("gofpm upload\n"), 10000)
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		mw.WriteField("name", "report")
		fw, _ := mw.CreateFormFile("f", "report.bin")
		fw.Write(payload)
		mw.Close()
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(base+"/upload.php", mw.FormDataContentType(), &form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("upload %d %x name=report\n", len(payload), md5.Sum(payload)); resp.StatusCode != 200 || string(b) != want {
			t.Errorf("POST /upload.php: %d %q, want %q", resp.StatusCode, b, want)
		}
	})
}

// TestFrontSafetyNoRoot: gofpm check (and run) refuse a front that
// sends requests to a php-cgi pool without [http] root: it would map URLs
// onto /.
func TestFrontSafetyNoRoot(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	text := fmt.Sprintf(`
[pool.php]
listen = "{{DIR}}/php.sock"
command = [%q]
pm = "static"
pm_max_children = 1

[http]
listen = "127.0.0.1:0"
`, phpCGI)
	conf := writeConfig(t, dir, text)
	args := []string{"check", "-c", conf}
	if os.Geteuid() == 0 {
		args = append(args, "-R")
	}
	out, err := exec.Command(bins.gofpm, args...).CombinedOutput()
	want := conf + `:8:1: http: default_pool "php" runs the scripts that URLs name (php-cgi8.2), so [http] needs root (the document root, e.g. root = "/srv/www")`
	if err == nil || !strings.Contains(string(out), want) {
		t.Fatalf("gofpm check: %v\n%s\nwant a line %q", err, out, want)
	}
	m := launchMaster(t, dir, text)
	if code := m.waitExit(10 * time.Second); code == 0 || m.count("so [http] needs root") != 1 {
		t.Fatalf("gofpm run: exit %d\n%s", code, m.logText())
	}
	if _, err := os.Stat(filepath.Join(dir, "php.sock")); err == nil {
		t.Errorf("gofpm run left a socket behind")
	}
}

// TestFrontSafetyNginxPHP: behind nginx with the location of
// examples/php/README.md (fastcgi_split_path_info, try_files, PATH_INFO),
// PATH_INFO still works with php-cgi's cgi.fix_pathinfo=0.
func TestFrontSafetyNginxPHP(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	phpSite(t, dir)
	startMaster(t, dir, fmt.Sprintf(`
[pool.php]
listen = "{{DIR}}/php.sock"
listen_mode = "0666"
command = [%q]
worker_graceful_signal = "SIGTERM"
pm = "static"
pm_max_children = 1
`, phpCGI))
	n := startNginx(t, dir, fmt.Sprintf(`location ~ [^/]\.php(/|$) {
            root %s/www;
            fastcgi_split_path_info ^(.+?\.php)(/.*)$;
            set $path_info $fastcgi_path_info;   # try_files empties $fastcgi_path_info
            try_files $fastcgi_script_name =404;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $path_info;
            fastcgi_pass unix:%s/php.sock;
        }`, dir, dir))
	if code, body := httpGet(t, n.client, "http://localhost/info.php/extra/path"); code != 200 || !strings.HasPrefix(body, "script=/info.php path_info=/extra/path ") || !strings.Contains(body, "fix_pathinfo=0") {
		t.Errorf("GET /info.php/extra/path through nginx: %d %q", code, body)
	}
	if code, body := httpGet(t, n.client, "http://localhost/uploads/evil.jpg/x.php"); code != 404 || strings.Contains(body, "EVIL") {
		t.Errorf("GET /uploads/evil.jpg/x.php through nginx: %d %q", code, body)
	}
}
