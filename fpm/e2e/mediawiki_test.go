package e2e

// MediaWiki (Debian's package, on SQLite) through nginx and gofpm's warm
// PHP pool answers as it does through nginx and php-fpm 8.2: the same
// status codes and the same pages, but for timestamps, timings and tokens,
// for GET and for POST (log in, save an edit).

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	mediaWiki   = "/usr/share/mediawiki"
	phpFPMBin   = "/usr/sbin/php-fpm8.2"
	wikiPass    = "gofpm-e2e-Pass1"
	wikiContent = "Hello from the gofpm e2e test: '''bold''' and [[Main Page|a link]]."
)

// installWiki installs MediaWiki on SQLite into dir/mw and returns its
// LocalSettings.php.
func installWiki(t *testing.T, dir string) string {
	t.Helper()
	conf, data := filepath.Join(dir, "mw", "conf"), filepath.Join(dir, "mw", "data")
	os.MkdirAll(conf, 0o755)
	os.MkdirAll(data, 0o755)
	cmd := exec.Command("php", mediaWiki+"/maintenance/install.php", "--dbtype", "sqlite", "--dbpath", data,
		"--dbname", "wiki", "--confpath", conf, "--server", "http://localhost", "--scriptpath", "",
		"--pass", wikiPass, "--lang", "en", "--quiet", "E2EWiki", "Admin")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install.php: %v\n%s", err, out)
	}
	ls := filepath.Join(conf, "LocalSettings.php")
	f, err := os.OpenFile(ls, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("\n$wgShowExceptionDetails = true;\n")
	return ls
}

// wikiNginx is nginx in front of a wiki's pool socket.
func wikiNginx(t *testing.T, dir, sock, settings string) *http.Client {
	t.Helper()
	ng := startNginx(t, dir, fmt.Sprintf(`location ~ \.php$ {
            root %s;
            try_files $fastcgi_script_name =404;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param MW_CONFIG_FILE %s;
            fastcgi_param REMOTE_ADDR 127.0.0.1; # nginx on a Unix socket says "unix:", which MediaWiki refuses
            fastcgi_pass unix:%s;
        }`, mediaWiki, settings, sock))
	jar, _ := cookiejar.New(nil)
	c := *ng.client
	c.Jar = jar
	c.Timeout = 60 * time.Second
	return &c
}

// startPHPFPM runs php-fpm 8.2 (pm = static, 2 children, as root) on sock.
func startPHPFPM(t *testing.T, dir, sock string) {
	t.Helper()
	conf := filepath.Join(dir, "php-fpm.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("[global]\npid = %s/fpm.pid\nerror_log = %s/fpm.log\ndaemonize = no\n"+
		"[www]\nuser = root\ngroup = root\nlisten = %s\nlisten.mode = 0666\npm = static\npm.max_children = 2\n", dir, dir, sock)), 0o644)
	cmd := exec.Command(phpFPMBin, "-R", "-F", "-y", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stopOnCleanup(t, cmd, exited, 10*time.Second, nil)
	eventually(t, 10*time.Second, "php-fpm socket", func() bool { _, err := os.Stat(sock); return err == nil })
}

// wikiVolatile matches what differs between two installs and two runs:
// tokens, timestamps, timings, request ids, dates, cache keys.
var wikiVolatile = []*regexp.Regexp{
	regexp.MustCompile(`[0-9a-f]{32,}(\+|%2B)(\\\\|\\|%5C)`), // CSRF and login tokens
	regexp.MustCompile(`"wgRequestId":"[^"]*"`),              // per request
	regexp.MustCompile(`"wgBackendResponseTime":\d+`),        // timing
	regexp.MustCompile(`"wgUserRegistration":\d+`),           // the install's time, in ms
	// Updated by a deferred update: php-fpm runs it after the answer
	// (fastcgi_finish_request), php-cgi before the answer ends, so the
	// page after the redirect may or may not count the edit (docs/php.md).
	regexp.MustCompile(`"wgUserEditCount":\d+`),
	regexp.MustCompile(`"wgPageParseReport":\{.*?\}\}`),       // parser timings
	regexp.MustCompile(`(?s)<!--\s*NewPP limit report.*?-->`), // the same in a comment
	regexp.MustCompile(`(?s)<!--\s*Transclusion expansion time report.*?-->`),
	regexp.MustCompile(`(?s)<!--\s*Saved in parser cache.*?-->`),
	regexp.MustCompile(`\b\d{14}\b`),                               // MediaWiki timestamps
	regexp.MustCompile(`\d{1,2}:\d{2}, \d{1,2} [A-Z][a-z]+ \d{4}`), // "06:45, 2 December 2026"
	regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z`),
	regexp.MustCompile(`"wgCSPNonce":[^,]*`),
	regexp.MustCompile(`name="wpEditToken" value="[^"]*"`),
	regexp.MustCompile(`name="wpLoginToken" value="[^"]*"`),
	regexp.MustCompile(`"(wgRevisionId|wgCurRevisionId|wgArticleId)":\d+`),
	regexp.MustCompile(`oldid=\d+`),
	regexp.MustCompile(`"timestamp":"[^"]*"`),
	regexp.MustCompile(`served in [0-9.]+ secs`),
	regexp.MustCompile(`E2EWiki-[0-9a-f]+`),
	regexp.MustCompile(`load\.php\?[^"]*`), // resource URLs carry version hashes
}

func normalizeWiki(s string) string {
	for _, re := range wikiVolatile {
		s = re.ReplaceAllString(s, "<X>")
	}
	return s
}

var hidden = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*name="([\w]+)"[^>]*value="([^"]*)"|<input[^>]*type="hidden"[^>]*value="([^"]*)"[^>]*name="([\w]+)"|<input[^>]*name="([\w]+)"[^>]*type="hidden"[^>]*value="([^"]*)"`)

// formFields are the hidden fields of a form page.
func formFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hidden.FindAllStringSubmatch(body, -1) {
		switch {
		case m[1] != "":
			v.Set(m[1], htmlUnescape(m[2]))
		case m[4] != "":
			v.Set(m[4], htmlUnescape(m[3]))
		default:
			v.Set(m[5], htmlUnescape(m[6]))
		}
	}
	v.Del("title") // the search box's; the URL names the page
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&quot;", `"`, "&#039;", "'", "&lt;", "<", "&gt;", ">", "&#43;", "+").Replace(s)
}

type wikiStep struct {
	name string
	code int
	body string
}

// wikiSession logs in, saves an edit and reads the page back.
func wikiSession(t *testing.T, c *http.Client) []wikiStep {
	t.Helper()
	var steps []wikiStep
	do := func(name, method, path string, form url.Values) string {
		var resp *http.Response
		var err error
		if method == "POST" {
			resp, err = c.PostForm("http://localhost"+path, form)
		} else {
			resp, err = c.Get("http://localhost" + path)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		steps = append(steps, wikiStep{name, resp.StatusCode, string(b)})
		return string(b)
	}
	do("main page", "GET", "/index.php?title=Main_Page", nil)
	do("missing page", "GET", "/index.php?title=No_such_page_here", nil)
	login := formFields(do("login form", "GET", "/index.php?title=Special:UserLogin", nil))
	login.Set("wpName", "Admin")
	login.Set("wpPassword", wikiPass)
	login.Set("wploginattempt", "Log in")
	if login.Get("wpLoginToken") == "" {
		t.Fatalf("the login form has no wpLoginToken")
	}
	do("log in (POST)", "POST", "/index.php?title=Special:UserLogin&returnto=Main_Page", login)
	edit := formFields(do("edit form", "GET", "/index.php?title=E2E_page&action=edit", nil))
	if edit.Get("wpEditToken") == "" || strings.HasPrefix(edit.Get("wpEditToken"), "+") {
		t.Fatalf("not logged in: the edit form has token %q", edit.Get("wpEditToken"))
	}
	edit.Set("wpTextbox1", wikiContent)
	edit.Set("wpSummary", "e2e")
	edit.Set("wpSave", "Save page")
	do("save edit (POST)", "POST", "/index.php?title=E2E_page&action=submit", edit)
	do("edited page", "GET", "/index.php?title=E2E_page", nil)
	return steps
}

// TestPHPMediaWikiSameAsPHPFPM: MediaWiki behind nginx, once on php-fpm 8.2,
// once on a gofpm worker = "php" pool: every step answers with the same
// status and the same page.
func TestPHPMediaWikiSameAsPHPFPM(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	for _, p := range []string{mediaWiki + "/index.php", phpFPMBin} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is not installed (apt-get install mediawiki php8.2-fpm php8.2-sqlite3)", p)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: php-fpm and gofpm run the wiki as root here")
	}
	fdir, gdir := shortTempDir(t), shortTempDir(t)
	fsock, gsock := filepath.Join(fdir, "fpm.sock"), filepath.Join(gdir, "php.sock")
	startPHPFPM(t, fdir, fsock)
	fpm := wikiNginx(t, fdir, fsock, installWiki(t, fdir))
	m := startMaster(t, gdir, fmt.Sprintf(`
[pool.wiki]
listen = "{{DIR}}/php.sock"
listen_mode = "0666"
command = [%q]
worker = "php"
worker_graceful_signal = "SIGTERM"
pm = "static"
pm_max_children = 2
`, phpCGI))
	t.Cleanup(func() {
		for _, pid := range m.children() {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	gofpm := wikiNginx(t, gdir, gsock, installWiki(t, gdir))

	want, got := wikiSession(t, fpm), wikiSession(t, gofpm)
	for i, w := range want {
		g := got[i]
		if w.code != g.code {
			t.Errorf("%s: status %d through gofpm, %d through php-fpm", w.name, g.code, w.code)
		}
		if wantCode := map[string]int{"missing page": 404}[w.name]; w.code != max(wantCode, 200) {
			t.Errorf("%s: status %d through php-fpm, want %d (after redirects)", w.name, w.code, max(wantCode, 200))
		}
		if nw, ng := normalizeWiki(w.body), normalizeWiki(g.body); nw != ng {
			t.Errorf("%s: the pages differ: %s", w.name, firstDiff(nw, ng))
		}
	}
	if last := got[len(got)-1].body; !strings.Contains(last, "<b>bold</b>") {
		t.Errorf("the edited page through gofpm lacks the saved text")
	}
}

// firstDiff shows where two texts part, with some context.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(i-80, 0)
	return fmt.Sprintf("at byte %d:\n  php-fpm: %q\n  gofpm:   %q", i, a[from:min(i+120, len(a))], b[from:min(i+120, len(b))])
}
