package e2e

// make dist and make deb: the test builds both with the Makefile (into a
// temp BIN), reads the package with dpkg-deb, installs it with the real
// dpkg into a temp root (dpkg --root with --force-script-chrootless: the
// maintainer scripts run on this system with DPKG_ROOT set, as Debian's
// bootstrap tools run them, so nothing outside the temp root changes and
// no dpkg lock of the system is taken), runs the installed gofpm's check
// on the installed config, starts that gofpm on it as the unit would
// (systemd's RuntimeDirectory played by a temp dir), and removes and
// purges the package again.

import (
	"bufio"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
)

// pkgBuild is the output of make dist deb.
type pkgBuild struct {
	bin, version, debVersion, arch string
	deb, tarball                   string
	logrotate                      string // deploy/logrotate's file, if the repository has one
}

// buildPackages runs make dist deb with BIN in a temp dir and VERSION
// v1.2.3 (Debian version 1.2.3).
func buildPackages(t *testing.T) *pkgBuild {
	t.Helper()
	for _, tool := range []string{"make", "dpkg-deb", "dpkg", "tar", "gzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed: %v", tool, err)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	arch, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	p := &pkgBuild{bin: shortTempDir(t), version: "v1.2.3", debVersion: "1.2.3", arch: strings.TrimSpace(string(arch))}
	goarch, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	p.deb = filepath.Join(p.bin, fmt.Sprintf("gofpm_%s_%s.deb", p.debVersion, p.arch))
	p.tarball = filepath.Join(p.bin, fmt.Sprintf("gofpm-%s-linux-%s.tar.gz", p.version, strings.TrimSpace(string(goarch))))
	// The Makefile's LOGROTATE: the first regular file of deploy/logrotate.
	if _, err := os.Stat("../../deploy/logrotate"); err == nil {
		find := exec.Command("find", "deploy/logrotate", "-maxdepth", "1", "-type", "f", "!", "-name", "*.md")
		find.Dir = "../.."
		out, _ := find.Output()
		lines := strings.Fields(string(out))
		slices.Sort(lines)
		if len(lines) > 0 {
			p.logrotate = lines[0]
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-s", "-C", "../..", "dist", "deb", "BIN="+p.bin, "VERSION="+p.version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist deb: %v\n%s", err, out)
	}
	for _, f := range []string{p.deb, p.tarball} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("make dist deb made no %s: %v", filepath.Base(f), err)
		}
	}
	return p
}

func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// debFields parses a control file's Key: value lines.
func debFields(text string) map[string]string {
	m := map[string]string{}
	key := ""
	for _, l := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, " ") && !strings.Contains(k, " ") {
			key = k
			m[k] = strings.TrimSpace(v)
		} else if key != "" && strings.HasPrefix(l, " ") {
			m[key] += "\n" + l
		}
	}
	return m
}

// isStatic reports whether an ELF binary needs no dynamic loader.
func isStatic(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// TestMakePackages runs make dist deb once and checks both packages.
func TestMakePackages(t *testing.T) {
	p := buildPackages(t)
	t.Run("deb", func(t *testing.T) { checkDeb(t, p) })
	t.Run("dist", func(t *testing.T) { checkDist(t, p) })
}

// checkDeb checks the Debian package from the outside (dpkg-deb
// --info/--contents), installed (dpkg --root), running and removed.
func checkDeb(t *testing.T, p *pkgBuild) {
	if os.Geteuid() != 0 {
		t.Skip("dpkg installs as root (the files are root's)")
	}

	// The control file.
	info := debFields(runOK(t, "dpkg-deb", "--field", p.deb))
	for k, want := range map[string]string{"Package": "gofpm", "Version": p.debVersion, "Architecture": p.arch, "Section": "httpd"} {
		if info[k] != want {
			t.Errorf("control %s: %q, want %q", k, info[k], want)
		}
	}
	for _, k := range []string{"Maintainer", "Description", "Installed-Size", "Homepage"} {
		if info[k] == "" {
			t.Errorf("control has no %s", k)
		}
	}
	if d := info["Depends"] + info["Pre-Depends"]; d != "" {
		t.Errorf("Depends %q: the binary is static and needs nothing", d)
	}
	infoText := runOK(t, "dpkg-deb", "--info", p.deb)
	for _, script := range []string{"postinst", "prerm", "postrm", "conffiles", "md5sums"} {
		if !regexp.MustCompile(`\s` + script + `\s`).MatchString(infoText) {
			t.Errorf("dpkg-deb --info lists no %s", script)
		}
	}

	// The contents: Debian's layout, root's files, nothing else.
	want := map[string]string{ // path -> mode
		"./usr/bin/gofpm":                                  "-rwxr-xr-x",
		"./etc/gofpm/pool.toml":                            "-rw-r--r--",
		"./etc/gofpm/pool.d/":                              "drwxr-xr-x",
		"./etc/gofpm/pool.d/www.toml":                      "-rw-r--r--",
		"./lib/systemd/system/gofpm.service":               "-rw-r--r--",
		"./lib/systemd/system/gofpm.socket":                "-rw-r--r--",
		"./usr/share/man/man1/gofpm.1.gz":                  "-rw-r--r--",
		"./usr/share/bash-completion/completions/gofpm":    "-rw-r--r--",
		"./usr/share/zsh/vendor-completions/_gofpm":        "-rw-r--r--",
		"./usr/share/fish/vendor_completions.d/gofpm.fish": "-rw-r--r--",
		"./usr/share/doc/gofpm/copyright":                  "-rw-r--r--",
		"./usr/lib/cgi-bin/":                               "drwxr-xr-x",
	}
	if p.logrotate != "" {
		want["./etc/logrotate.d/gofpm"] = "-rw-r--r--"
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(runOK(t, "dpkg-deb", "--contents", p.deb)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		path := f[len(f)-1]
		got[path] = f[0]
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", path, f[1])
		}
		allowed := false
		for _, pre := range []string{"./usr/bin/", "./usr/share/", "./usr/lib/", "./lib/systemd/", "./etc/gofpm/", "./etc/logrotate.d/"} {
			allowed = allowed || strings.HasPrefix(path, pre) || strings.HasPrefix(pre, path)
		}
		if !allowed {
			t.Errorf("the package ships %s, outside Debian's places for it (/run/gofpm is the unit's RuntimeDirectory)", path)
		}
	}
	for path, mode := range want {
		if got[path] != mode {
			t.Errorf("%s: mode %q, want %q", path, got[path], mode)
		}
	}

	// Unpacked: the binary is static, its version is VERSION, the man
	// page is the command's.
	x := shortTempDir(t)
	runOK(t, "dpkg-deb", "-x", p.deb, x)
	if !isStatic(t, filepath.Join(x, "usr/bin/gofpm")) {
		t.Error("/usr/bin/gofpm needs a dynamic loader; the package declares no Depends")
	}
	if v := runOK(t, filepath.Join(x, "usr/bin/gofpm"), "version"); !strings.HasPrefix(v, "gofpm "+p.version+" ") {
		t.Errorf("gofpm version: %q, want gofpm %s", v, p.version)
	}
	if man := runOK(t, "sh", "-c", "gzip -dc "+filepath.Join(x, "usr/share/man/man1/gofpm.1.gz")); !strings.Contains(man, ".TH") || !strings.Contains(man, "import-php-fpm") {
		t.Errorf("the man page is not gofpm's:\n%.300s", man)
	}

	// Installed by dpkg into a temp root.
	root := shortTempDir(t)
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dpkg := func(args ...string) string {
		t.Helper()
		return runOK(t, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--log=/dev/null"}, args...)...)
	}
	dpkg("-i", p.deb)
	status := debFields(dpkg("-s", "gofpm"))
	if status["Status"] != "install ok installed" {
		t.Fatalf("dpkg -s gofpm: Status %q", status["Status"])
	}
	// Every file the package puts in /etc is a conffile (dpkg would
	// otherwise overwrite the admin's changes on upgrade).
	var conffiles []string
	for _, l := range strings.Split(status["Conffiles"], "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			conffiles = append(conffiles, f[0])
		}
	}
	var etc []string
	for path, mode := range got {
		if strings.HasPrefix(path, "./etc/") && !strings.HasPrefix(mode, "d") {
			etc = append(etc, path[1:])
		}
	}
	slices.Sort(conffiles)
	slices.Sort(etc)
	if !slices.Equal(conffiles, etc) || !slices.Contains(conffiles, "/etc/gofpm/pool.toml") {
		t.Errorf("conffiles %v, want every file in /etc: %v", conffiles, etc)
	}
	if p.logrotate != "" && !slices.Contains(conffiles, "/etc/logrotate.d/gofpm") {
		t.Errorf("conffiles %v lack /etc/logrotate.d/gofpm", conffiles)
	}
	// postinst enabled the units (symlinks, no systemd needed) and made
	// the log folder.
	for link, target := range map[string]string{
		"etc/systemd/system/multi-user.target.wants/gofpm.service": "/lib/systemd/system/gofpm.service",
		"etc/systemd/system/sockets.target.wants/gofpm.socket":     "/lib/systemd/system/gofpm.socket",
	} {
		if got, err := os.Readlink(filepath.Join(root, link)); err != nil || got != target {
			t.Errorf("postinst: /%s -> %q (%v), want %s", link, got, err, target)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "var/log/gofpm")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("postinst: /var/log/gofpm: %v %v, want a 0750 folder", fi, err)
	}

	// The unit and the config agree with each other and with the layout.
	gofpm := filepath.Join(root, "usr/bin/gofpm")
	conf := filepath.Join(root, "etc/gofpm/pool.toml")
	unit := flatUnit(t, filepath.Join(root, "lib/systemd/system/gofpm.service"))
	sock := flatUnit(t, filepath.Join(root, "lib/systemd/system/gofpm.socket"))
	for _, k := range []string{"ExecStart", "ExecStartPre", "ExecReload"} {
		if f := strings.Fields(unit[k]); len(f) < 3 || f[0] != "/usr/bin/gofpm" || flagValue(f, "-c") != "/etc/gofpm/pool.toml" {
			t.Errorf("gofpm.service %s=%s: want /usr/bin/gofpm ... -c /etc/gofpm/pool.toml", k, unit[k])
		}
	}
	// The config as the master loads it (includes followed), as root.
	cfg, err := config.Load(conf, config.LoadOptions{Euid: 0})
	if err != nil {
		t.Fatalf("the installed config: %v", err)
	}
	rundir := "/run/" + unit["RuntimeDirectory"]
	if unit["RuntimeDirectory"] == "" || unit["PIDFile"] != cfg.Pid || filepath.Dir(cfg.Pid) != rundir {
		t.Errorf("gofpm.service RuntimeDirectory=%s PIDFile=%s; pool.toml pid %s: want the pid file in the runtime dir", unit["RuntimeDirectory"], unit["PIDFile"], cfg.Pid)
	}
	named, ok := cfg.Pools[sock["FileDescriptorName"]]
	if !ok {
		t.Fatalf("gofpm.socket FileDescriptorName=%s names no pool of the installed config (%v)", sock["FileDescriptorName"], cfg.PoolOrder)
	}
	if named.Listen != sock["ListenStream"] || filepath.Dir(named.Listen) != rundir {
		t.Errorf("gofpm.socket %s (FileDescriptorName=%s): pool.toml's pool %s listens on %q, want the same path in %s",
			sock["ListenStream"], sock["FileDescriptorName"], sock["FileDescriptorName"], named.Listen, rundir)
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		// systemd's own parser: unknown keys and bad values are warnings,
		// so any output fails. The binary path points into the root.
		v := shortTempDir(t)
		for _, u := range []string{"gofpm.service", "gofpm.socket"} {
			b, err := os.ReadFile(filepath.Join(root, "lib/systemd/system", u))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(v, u), []byte(strings.ReplaceAll(string(b), "/usr/bin/gofpm", gofpm)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(v, "gofpm.service"), filepath.Join(v, "gofpm.socket")).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}

	// The installed gofpm checks the installed config as the unit's
	// ExecStartPre does (root, no -R: the pool names its user).
	if out, err := exec.Command(gofpm, "check", "-c", conf).CombinedOutput(); err != nil || !strings.Contains(string(out), "test is successful") {
		t.Errorf("gofpm check -c /etc/gofpm/pool.toml: %v\n%s", err, out)
	}

	// And starts on it: /run/gofpm is a fresh dir as RuntimeDirectory
	// makes it, the config's root-relative paths point into the root.
	rundir2 := shortTempDir(t)
	// /etc/gofpm copied with those paths moved (the drop-ins too: their
	// globs are relative to pool.toml's folder).
	etcCopy := shortTempDir(t)
	mover := strings.NewReplacer(`"`+rundir+`/`, `"`+rundir2+`/`, `"/usr/lib/cgi-bin"`, `"`+filepath.Join(root, "usr/lib/cgi-bin")+`"`)
	filepath.Walk(filepath.Join(root, "etc/gofpm"), func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(filepath.Join(root, "etc/gofpm"), path)
		dst := filepath.Join(etcCopy, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return os.WriteFile(dst, []byte(mover.Replace(string(b))), 0o644)
	})
	started := filepath.Join(etcCopy, "pool.toml")
	script := filepath.Join(root, "usr/lib/cgi-bin/hello.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nhello from %s\\n' \"$(id -un)\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := startImageMaster(t, []string{gofpm, "run", "-c", started, "--log-format", "json"}, 0, 0)
	m.waitFor("ready to handle connections", 15*time.Second)
	wwwSock := filepath.Join(rundir2, filepath.Base(named.Listen))
	if code, body := fcgiGet(t, wwwSock, "/hello.sh", "SCRIPT_FILENAME", script); code != 200 || body != "hello from www-data\n" {
		t.Errorf("GET /hello.sh on the installed pool: %d %q, want the script run as www-data", code, body)
	}
	status2 := filepath.Join(rundir2, "www-status.sock")
	if out, err := exec.Command(gofpm, "ping", "-s", "unix:"+status2).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "pong" {
		t.Errorf("gofpm ping on pm_status_listen: %v %q", err, out)
	}
	if err := m.cmd.Process.Signal(unitKillSignal(t, unit)); err != nil {
		t.Fatal(err)
	}
	if code := m.waitExit(15 * time.Second); code != 0 {
		t.Errorf("the installed gofpm exited %d on the unit's KillSignal", code)
	}

	// Removed: the program goes, the admin's config stays (conffiles),
	// the units are masked; purged: nothing of gofpm is left.
	os.Remove(script)
	dpkg("-r", "gofpm")
	if _, err := os.Stat(gofpm); err == nil {
		t.Error("dpkg -r left /usr/bin/gofpm")
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("dpkg -r removed the conffile /etc/gofpm/pool.toml: %v", err)
	}
	dpkg("-P", "gofpm")
	var left []string
	filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		rel, _ := filepath.Rel(root, path)
		if err == nil && strings.Contains(rel, "gofpm") && !strings.HasPrefix(rel, "var/lib/dpkg") {
			left = append(left, rel)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("after dpkg -P: %v are left", left)
	}
}

// flatUnit is a unit's keys over all its sections (readUnit), the last
// value of each.
func flatUnit(t *testing.T, path string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, sec := range readUnit(t, path) {
		for k, v := range sec {
			m[k] = v[len(v)-1]
		}
	}
	return m
}

func unitKillSignal(t *testing.T, unit map[string]string) os.Signal {
	t.Helper()
	switch unit["KillSignal"] {
	case "SIGQUIT":
		return syscall.SIGQUIT
	case "", "SIGTERM":
		return syscall.SIGTERM
	}
	t.Fatalf("KillSignal=%s", unit["KillSignal"])
	return nil
}

// checkDist checks what the tarball holds: the binary (static, of
// VERSION), its man page and completions, the systemd units, the
// logrotate file when deploy/logrotate has one, LICENSE and README.
func checkDist(t *testing.T, p *pkgBuild) {
	dir := strings.TrimSuffix(filepath.Base(p.tarball), ".tar.gz")
	listing := strings.Fields(runOK(t, "tar", "-tzf", p.tarball))
	want := []string{"gofpm", "gofpm.1", "completions/gofpm.bash", "completions/_gofpm", "completions/gofpm.fish",
		"systemd/gofpm.service", "systemd/gofpm.socket", "systemd/pool.toml", "LICENSE", "README.md"}
	if p.logrotate != "" {
		want = append(want, "logrotate/gofpm")
	}
	for _, w := range want {
		if !slices.Contains(listing, dir+"/"+w) {
			t.Errorf("%s lacks %s/%s; it has %v", filepath.Base(p.tarball), dir, w, listing)
		}
	}
	x := shortTempDir(t)
	runOK(t, "tar", "-xzf", p.tarball, "-C", x)
	bin := filepath.Join(x, dir, "gofpm")
	if !isStatic(t, bin) {
		t.Error("the tarball's gofpm needs a dynamic loader")
	}
	if v := runOK(t, bin, "version"); !strings.HasPrefix(v, "gofpm "+p.version+" ") {
		t.Errorf("gofpm version: %q", v)
	}
	// The units name the path docs/install.md installs the binary to.
	unit := flatUnit(t, filepath.Join(x, dir, "systemd/gofpm.service"))
	doc, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	exe := strings.Fields(unit["ExecStart"])[0]
	if !strings.Contains(string(doc), " gofpm "+exe) {
		t.Errorf("docs/install.md does not install the tarball's binary to %s, where its unit runs it", exe)
	}
}
