package e2e

// End-to-end test of the live dashboard (fpm/dashboard.go): a real master
// with busy workers, the page served by the HTTP front, rendered by a
// headless Chromium (Debian's, which make deps installs) after its script
// has polled the status page, and a screenshot for a person to look at.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const chromiumBin = "/usr/bin/chromium"

const dashboardPool = `
[pool.www]
listen = "{{DIR}}/www.sock"
listen_mode = "0666"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 3
pm_status_path = "/status"
ping_path = "/ping"

[http]
listen = "127.0.0.1:0"
default_pool = "www"
`

// phpfpmStatusKeys are the keys of php-fpm's ?json status, in its order;
// the dashboard must not add any.
var phpfpmStatusKeys = []string{"pool", "process manager", "start time", "start since", "accepted conn", "listen queue", "max listen queue", "listen queue len", "idle processes", "active processes", "total processes", "max active processes", "max children reached", "slow requests", "processes"}

func TestDashboard(t *testing.T) {
	if _, err := os.Stat(chromiumBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not installed (make deps installs it): %v", err)
		}
		t.Skip("chromium is not installed; run make deps")
	}
	dir := shortTempDir(t)
	m := startMaster(t, dir, dashboardPool)
	m.waitUntil("3 children", 10*time.Second, func([]logLine) bool { return len(m.children()) == 3 })
	base := m.frontURL()
	dashURL := base + "/status/dashboard"
	c := &http.Client{Timeout: 10 * time.Second}

	// The page: self-contained, with the pool's limits written in and a
	// Content-Security-Policy that lets only its own script run.
	resp, err := c.Get(dashURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %q (is the dashboard hooked into front.go's ServeHTTP?)\n%.300s", dashURL, resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	for _, want := range []string{`"max_children":3`, `"status_path":"/status"`, `"pool":"www"`, `"pm":"static"`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("dashboard page lacks %s", want)
		}
	}
	if bytes.Contains(page, []byte("{{GOFPM_")) {
		t.Error("dashboard page has unfilled placeholders")
	}
	for _, ref := range []string{"src=\"http", "href=\"http", "@import", "url(http"} {
		if bytes.Contains(page, []byte(ref)) {
			t.Errorf("dashboard page refers to an outside resource (%s)", ref)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'nonce-") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for method, want := range map[string]int{"HEAD": 200, "POST": http.StatusMethodNotAllowed} {
		req, _ := http.NewRequest(method, dashURL, strings.NewReader(""))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, dashURL, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d, want %d", method, dashURL, resp.StatusCode, want)
		}
	}

	// The status page stays php-fpm's: the same JSON keys, nothing added.
	_, body := httpGet(t, c, base+"/status?json&full")
	var keys []string
	dec := json.NewDecoder(strings.NewReader(body))
	dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	if !slices.Equal(keys, phpfpmStatusKeys) {
		t.Errorf("status JSON keys %q, want php-fpm's %q", keys, phpfpmStatusKeys)
	}

	// Keep two of the three workers busy: each client asks for another
	// sleep as soon as one ends, until the test is over.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() }) // before the master is stopped
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/sleep?ms=3000", nil)
				if resp, err := c.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	var st struct {
		Active    int `json:"active processes"`
		Processes []struct {
			PID int    `json:"pid"`
			URI string `json:"request uri"`
		} `json:"processes"`
	}
	eventually(t, 10*time.Second, "2 active processes", func() bool {
		_, body := httpGet(t, c, base+"/status?json&full")
		return json.Unmarshal([]byte(body), &st) == nil && st.Active == 2
	})
	var pids []int
	for _, p := range st.Processes {
		pids = append(pids, p.PID)
	}
	if len(pids) != 3 {
		t.Fatalf("status lists %d processes, want 3: %+v", len(pids), st.Processes)
	}

	// The DOM after the page's script has polled the status page a few
	// times. A poll may land in the instant between two sleeps of a
	// client and show one worker idle, so a render that shows anything but
	// 2 active workers is taken once more, up to three times.
	checks := []struct {
		what string
		re   *regexp.Regexp
	}{
		{"pool name", regexp.MustCompile(`id="pool-name"[^>]*>www<`)},
		{"pm", regexp.MustCompile(`id="pm"[^>]*>static<`)},
		{"3 total processes", regexp.MustCompile(`id="total-procs"[^>]*>3<`)},
		{"2 active processes", regexp.MustCompile(`id="active-procs"[^>]*>2<`)},
		{"1 idle process", regexp.MustCompile(`id="idle-procs"[^>]*>1<`)},
		{"max children 3", regexp.MustCompile(`id="max-children"[^>]*>3<`)},
		{"the /sleep requests", regexp.MustCompile(`class="uri"[^>]*>/sleep\?ms=3000<`)},
		{"2 Running workers", regexp.MustCompile(`(?s)(class="pill s-running"[^>]*>Running<.*){2}`)},
		{"the live indicator", regexp.MustCompile(`class="conn live"`)},
		{"a listen backlog", regexp.MustCompile(`id="listen-backlog"[^>]*>[1-9]`)},
	}
	for _, pid := range pids {
		checks = append(checks, struct {
			what string
			re   *regexp.Regexp
		}{fmt.Sprintf("a row for pid %d", pid), regexp.MustCompile(`<tr[^>]*data-pid="` + strconv.Itoa(pid) + `"`)})
	}
	busyChecks := []string{"2 active processes", "1 idle process", "2 Running workers"}
	var dom string
	var missing []string
	for attempt := 1; attempt <= 3; attempt++ {
		dom = string(runChromium(t, "--virtual-time-budget=3000", "--dump-dom", dashURL))
		missing = missing[:0]
		for _, ch := range checks {
			if !ch.re.MatchString(dom) {
				missing = append(missing, ch.what)
			}
		}
		if len(missing) == 0 || slices.ContainsFunc(missing, func(w string) bool { return !slices.Contains(busyChecks, w) }) {
			break
		}
		t.Logf("render %d lacks %q; once more", attempt, missing)
	}
	if len(missing) > 0 {
		t.Fatalf("the rendered dashboard lacks %q; DOM:\n%s", missing, dom)
	}

	// Screenshots, light and dark, for a person to look at.
	for _, shot := range []struct{ name, flag string }{{"gofpm-dashboard.png", ""}, {"gofpm-dashboard-dark.png", "--force-dark-mode"}} {
		file := filepath.Join(t.TempDir(), shot.name)
		args := []string{"--virtual-time-budget=3000", "--hide-scrollbars", "--window-size=1280,900", "--screenshot=" + file}
		if shot.flag != "" {
			args = append(args, shot.flag)
		}
		runChromium(t, append(args, dashURL)...)
		img, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil || cfg.Width != 1280 || cfg.Height != 900 {
			t.Errorf("screenshot %s: %dx%d %v, want a 1280x900 PNG", file, cfg.Width, cfg.Height, err)
		}
		keep := filepath.Join(os.TempDir(), shot.name)
		if err := os.WriteFile(keep, img, 0o644); err != nil {
			t.Errorf("copying the screenshot: %v", err)
		}
		t.Logf("dashboard screenshot: %s (copy: %s)", file, keep)
	}
}

// runChromium runs headless Chromium with args after the common flags, in
// a profile of its own, and returns its standard output. It is killed (its
// whole process group, by pid) when it runs for more than a minute or
// outlives the test.
func runChromium(t *testing.T, args ...string) []byte {
	t.Helper()
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	all := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + profile,
	}, args...)
	cmd := exec.CommandContext(ctx, chromiumBin, all...)
	// Its own HOME and XDG dirs: nothing is read from or left in the user's.
	cmd.Env = append(os.Environ(), "HOME="+profile, "XDG_CONFIG_HOME="+filepath.Join(profile, "config"), "XDG_CACHE_HOME="+filepath.Join(profile, "cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { killGroup(pgid) })
	err := cmd.Wait()
	killGroup(pgid) // helpers that outlived the browser
	if err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// killGroup kills, by pid, every live process of process group pgid (a
// Chromium this test started with Setpgid).
func killGroup(pgid int) error {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		// After "pid (comm)": state ppid pgrp ...
		if f := strings.Fields(s[i+1:]); len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return nil
}
