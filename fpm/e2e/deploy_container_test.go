package e2e

// deploy/container: no container engine runs here, so the tests read the
// Containerfile, lay out the image's files in a temp dir from its COPY
// lines (the binaries TestMain built stand for the build stage's), and run
// the image's ENTRYPOINT + CMD, HEALTHCHECK and STOPSIGNAL for real, as the
// image's USER when the test runs as root.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
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

	"github.com/gofpm/gofpm/fpm/internal/config"
)

const containerfile = "../../deploy/container/Containerfile"

// cfInstr is one Containerfile instruction.
type cfInstr struct {
	line  int
	cmd   string // upper case
	args  string
	stage int // index of its FROM
}

// cfImage is what the tests need from the Containerfile.
type cfImage struct {
	instrs      []cfInstr
	stageNames  map[string]int
	user        string
	entrypoint  []string
	cmd         []string
	healthcheck []string
	stopSignal  string
	expose      []string
	labels      map[string]string // LABEL key=value of the final stage
	stageArgs   map[int][]string  // ARG names, by stage
	base        string            // the final stage's FROM image
	runs        []string          // the final stage's RUN command lines
}

func parseContainerfile(t *testing.T, path string) *cfImage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img := &cfImage{stageNames: map[string]int{}, labels: map[string]string{}, stageArgs: map[int][]string{}}
	stage := -1
	var cur strings.Builder
	start := 0
	for n, line := range strings.Split(string(b), "\n") {
		trim := strings.TrimSpace(line)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue // comments may sit inside a continued instruction too
		}
		if cur.Len() == 0 {
			start = n + 1
		}
		if strings.HasSuffix(trim, "\\") {
			cur.WriteString(strings.TrimSuffix(trim, "\\") + " ")
			continue
		}
		cur.WriteString(trim)
		word, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := cfInstr{line: start, cmd: strings.ToUpper(word), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stage++
			if f := strings.Fields(in.args); len(f) == 3 && strings.EqualFold(f[1], "AS") {
				img.stageNames[f[2]] = stage
			}
		}
		if stage < 0 {
			t.Fatalf("%s:%d: %s before FROM", path, in.line, in.cmd)
		}
		in.stage = stage
		img.instrs = append(img.instrs, in)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: ends inside a continued line", path)
	}
	jsonArgs := func(in cfInstr, s string) []string {
		var v []string
		if err := json.Unmarshal([]byte(s), &v); err != nil || len(v) == 0 {
			t.Fatalf("%s:%d: %s must be in exec form, a JSON array: %q", path, in.line, in.cmd, s)
		}
		return v
	}
	for _, in := range img.instrs {
		if in.cmd == "ARG" {
			name, _, _ := strings.Cut(in.args, "=")
			img.stageArgs[in.stage] = append(img.stageArgs[in.stage], name)
		}
		if in.stage != stage { // only the final stage makes the image
			continue
		}
		switch in.cmd {
		case "FROM":
			img.base = strings.Fields(in.args)[0]
		case "RUN":
			img.runs = append(img.runs, in.args)
		case "LABEL":
			for _, w := range shellWords(in.args) {
				k, v, ok := strings.Cut(w, "=")
				if !ok {
					t.Fatalf("%s:%d: LABEL %q: want key=value", path, in.line, w)
				}
				img.labels[k] = v
			}
		case "USER":
			img.user = in.args
		case "ENTRYPOINT":
			img.entrypoint = jsonArgs(in, in.args)
		case "CMD":
			img.cmd = jsonArgs(in, in.args)
		case "STOPSIGNAL":
			img.stopSignal = in.args
		case "EXPOSE":
			img.expose = append(img.expose, strings.Fields(in.args)...)
		case "HEALTHCHECK":
			_, c, ok := strings.Cut(in.args, "CMD ")
			if !ok {
				t.Fatalf("%s:%d: HEALTHCHECK without CMD", path, in.line)
			}
			img.healthcheck = jsonArgs(in, c)
		}
	}
	return img
}

// cfCopy is one COPY: sources, destination and --from stage (-1: context).
type cfCopy struct {
	line int
	from int
	srcs []string
	dst  string
}

func (img *cfImage) copies(t *testing.T) []cfCopy {
	t.Helper()
	var out []cfCopy
	for _, in := range img.instrs {
		if in.cmd == "ADD" {
			t.Errorf("Containerfile:%d: ADD; use COPY", in.line)
		}
		if in.cmd != "COPY" {
			continue
		}
		c := cfCopy{line: in.line, from: -1}
		var rest []string
		for _, f := range strings.Fields(in.args) {
			if v, ok := strings.CutPrefix(f, "--from="); ok {
				st, ok := img.stageNames[v]
				if !ok {
					t.Fatalf("Containerfile:%d: --from=%s names no stage", in.line, v)
				}
				c.from = st
			} else if strings.HasPrefix(f, "--") {
				t.Fatalf("Containerfile:%d: COPY flag %s not checked by this test", in.line, f)
			} else {
				rest = append(rest, f)
			}
		}
		if len(rest) < 2 {
			t.Fatalf("Containerfile:%d: COPY needs a source and a destination", in.line)
		}
		c.srcs, c.dst = rest[:len(rest)-1], rest[len(rest)-1]
		out = append(out, c)
	}
	return out
}

// workdir is the WORKDIR in force for stage st at instruction i.
func (img *cfImage) workdir(st, upto int) string {
	wd := "/"
	for _, in := range img.instrs[:upto] {
		if in.stage == st && in.cmd == "WORKDIR" {
			wd = filepath.Join(wd, in.args)
		}
	}
	return wd
}

// goBuild is one `go build` command line.
type goBuild struct{ out, pkg, ldflags string }

// shellWords splits a command line on spaces, honouring '...' and "...".
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in, q := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0 && c == q:
			q = 0
		case q != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			q, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func parseGoBuilds(t *testing.T, cmdline string) []goBuild {
	t.Helper()
	var out []goBuild
	for _, part := range strings.Split(cmdline, "&&") {
		w := shellWords(strings.TrimSpace(part))
		if len(w) < 2 || w[0] != "go" || w[1] != "build" {
			continue
		}
		var b goBuild
		for i := 2; i < len(w); i++ {
			switch {
			case w[i] == "-o" && i+1 < len(w):
				i++
				b.out = w[i]
			case w[i] == "-ldflags" && i+1 < len(w):
				i++
				b.ldflags = w[i]
			case !strings.HasPrefix(w[i], "-"):
				b.pkg = w[i]
			}
		}
		// One spelling for the version, whoever expands it.
		b.ldflags = strings.NewReplacer("${VERSION}", "VERSION", "$(VERSION)", "VERSION").Replace(b.ldflags)
		out = append(out, b)
	}
	return out
}

// makefileBuilds returns the go build lines of the Makefile's build target,
// its variables expanded (VERSION left as a name).
func makefileBuilds(t *testing.T) []goBuild {
	t.Helper()
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	var recipe []string
	inBuild := false
	for _, line := range strings.Split(string(b), "\n") {
		if inBuild {
			if !strings.HasPrefix(line, "\t") {
				inBuild = false
			} else {
				recipe = append(recipe, strings.TrimSpace(line))
				continue
			}
		}
		if line == "build:" {
			inBuild = true
			continue
		}
		for _, op := range []string{":=", "?="} {
			k, v, ok := strings.Cut(line, op)
			if k = strings.TrimSpace(k); ok && k != "" && !strings.ContainsAny(k, " \t$") {
				vars[k] = strings.TrimSpace(v)
				break
			}
		}
	}
	vars["GO"] = "go"
	vars["VERSION"] = "$(VERSION)"
	expand := func(s string) string {
		for range 5 {
			for k, v := range vars {
				if k != "VERSION" {
					s = strings.ReplaceAll(s, "$("+k+")", v)
				}
			}
		}
		return s
	}
	var out []goBuild
	for _, r := range recipe {
		out = append(out, parseGoBuilds(t, expand(r))...)
	}
	if len(out) == 0 {
		t.Fatal("Makefile: no go build in the build target")
	}
	return out
}

// ignoreRules reads a .dockerignore file. Only the forms it uses are
// understood: "*", "!path", "path", "**/GLOB", a top-level "GLOB".
func ignoreRules(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		p := strings.TrimPrefix(l, "!")
		if p != "*" && !strings.HasPrefix(p, "**/") && strings.ContainsAny(p, "*?[") && strings.Contains(p, "/") {
			t.Fatalf("%s: pattern %q is not a form this test understands", path, l)
		}
		out = append(out, l)
	}
	return out
}

// excluded reports whether rules leave the context path rel out of the build.
func excluded(rules []string, rel string) bool {
	out := false
	for _, r := range rules {
		p, neg := strings.CutPrefix(r, "!")
		hit := false
		switch {
		case p == "*":
			hit = true
		case strings.ContainsAny(p, "*?[") && !strings.HasPrefix(p, "**/"):
			hit, _ = filepath.Match(p, rel) // a top-level glob: *.go
		case strings.HasPrefix(p, "**/"):
			for _, e := range strings.Split(rel, "/") {
				if ok, _ := filepath.Match(p[3:], e); ok {
					hit = true
				}
			}
		default:
			p = strings.TrimSuffix(p, "/")
			hit = rel == p || strings.HasPrefix(rel, p+"/")
		}
		if hit {
			out = !neg
		}
	}
	return out
}

// copiedFrom reports whether the context path rel is under one of the
// COPY sources from the build context.
func copiedFrom(copies []cfCopy, rel string) bool {
	for _, c := range copies {
		if c.from >= 0 {
			continue
		}
		for _, s := range c.srcs {
			s = strings.TrimSuffix(filepath.Clean(s), "/")
			if ok, _ := filepath.Match(s, rel); ok || s == "." || rel == s || strings.HasPrefix(rel, s+"/") {
				return true
			}
		}
	}
	return false
}

// containerUser returns the uid and gid of USER uid:gid.
func containerUser(t *testing.T, img *cfImage) (int, int) {
	t.Helper()
	u, g, _ := strings.Cut(img.user, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil {
		t.Fatalf("USER %q: want numeric uid:gid (runAsNonRoot can only verify a number)", img.user)
	}
	return uid, gid
}

// imageLayout lays the final stage's COPY destinations out under a temp
// dir: files from the context are copied, the build stage's binaries are
// the ones TestMain built (bin/gofpm, bin/hello, as the Makefile names
// them). It returns the dir; image path P is dir+P.
func imageLayout(t *testing.T, img *cfImage) string {
	t.Helper()
	root := shortTempDir(t)
	final := img.instrs[len(img.instrs)-1].stage
	built := map[string]string{"bin/gofpm": bins.gofpm, "bin/hello": bins.hello}
	// Directories the final stage's RUN makes with install -d (-o/-g
	// honoured when the test runs as root).
	for _, run := range img.runs {
		for _, part := range strings.Split(run, "&&") {
			w := shellWords(strings.TrimSpace(part))
			if len(w) < 2 || w[0] != "install" || w[1] != "-d" {
				continue
			}
			uid, gid := -1, -1
			for i := 2; i < len(w); i++ {
				switch {
				case (w[i] == "-o" || w[i] == "-g" || w[i] == "-m") && i+1 < len(w):
					if w[i] == "-o" {
						uid, _ = strconv.Atoi(w[i+1])
					} else if w[i] == "-g" {
						gid, _ = strconv.Atoi(w[i+1])
					}
					i++
				case strings.HasPrefix(w[i], "/"):
					d := filepath.Join(root, w[i])
					if err := os.MkdirAll(d, 0o755); err != nil {
						t.Fatal(err)
					}
					if os.Geteuid() == 0 {
						os.Chown(d, uid, gid)
					}
				}
			}
		}
	}
	for i, in := range img.instrs {
		if in.cmd != "COPY" || in.stage != final {
			continue
		}
		for _, c := range img.copies(t) {
			if c.line != in.line {
				continue
			}
			for _, src := range c.srcs {
				dst := filepath.Join(root, c.dst)
				if strings.HasSuffix(c.dst, "/") {
					dst = filepath.Join(dst, filepath.Base(src))
				}
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					t.Fatal(err)
				}
				if c.from >= 0 {
					rel, err := filepath.Rel(img.workdir(c.from, i), src)
					if err != nil || built[rel] == "" {
						t.Fatalf("Containerfile:%d: %s is not a binary the build stage makes (%v)", c.line, src, rel)
					}
					if err := os.Symlink(built[rel], dst); err != nil {
						t.Fatal(err)
					}
					continue
				}
				b, err := os.ReadFile(filepath.Join("../..", src))
				if err != nil {
					t.Fatalf("Containerfile:%d: %v", c.line, err)
				}
				if err := os.WriteFile(dst, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return root
}

// syncBuffer collects a process's stdout.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// asUser makes cmd run as uid/gid with supplementary groups when the test
// runs as root (a container's USER or securityContext); otherwise the
// command runs as the test's user, which is not root either.
func asUser(cmd *exec.Cmd, uid, gid int, groups ...int) {
	if os.Geteuid() != 0 {
		return
	}
	gs := []uint32{uint32(gid)}
	for _, g := range groups {
		gs = append(gs, uint32(g))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: gs}}
}

// stdioPipe is a pipe for a child's stdout or stderr, its write end owned
// by uid as runc hands a container's stdio to the container's user (so
// /dev/stdout can be opened by path, as access_log = "/dev/stdout" does).
func stdioPipe(t *testing.T, uid, gid int) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := w.Chown(uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return r, w
}

// startImageMaster runs argv (an image's ENTRYPOINT + CMD with paths
// rewritten) as uid/gid/groups, its stderr read as a master's log and its
// stdout into the returned buffer. The process and its workers are
// stopped by pid at cleanup.
func startImageMaster(t *testing.T, argv []string, uid, gid int, groups ...int) (*master, *syncBuffer) {
	t.Helper()
	m := &master{t: t, cond: make(chan struct{}), exited: make(chan struct{})}
	m.cmd = exec.Command(argv[0], argv[1:]...)
	asUser(m.cmd, uid, gid, groups...)
	outR, outW := stdioPipe(t, uid, gid)
	errR, errW := stdioPipe(t, uid, gid)
	m.cmd.Stdout, m.cmd.Stderr = outW, errW
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	errW.Close()
	stdout := &syncBuffer{}
	go io.Copy(stdout, outR)
	go m.read(errR)
	t.Cleanup(m.kill)
	return m, stdout
}

// runAs runs argv to completion (bounded) as uid/gid/groups and returns
// its exit code and combined output.
func runAs(t *testing.T, argv []string, uid, gid int, groups ...int) (int, string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	asUser(cmd, uid, gid, groups...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		}
		if err != nil {
			t.Fatalf("%v: %v", argv, err)
		}
		return 0, out.String()
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not finish within 30s; output:\n%s", argv, out.String())
		return -1, ""
	}
}

// flagValue returns the value after flag (or its alias) in args.
func flagValue(args []string, names ...string) string {
	for i := 0; i+1 < len(args); i++ {
		for _, n := range names {
			if args[i] == n {
				return args[i+1]
			}
		}
	}
	return ""
}

// loadAsNonRoot loads a pool file as a non-root master would (the
// image's user), without looking for the command (an image path).
func loadAsNonRoot(t *testing.T, path string, uid int) *config.Config {
	t.Helper()
	cfg, err := config.Load(path, config.LoadOptions{Euid: uid, SkipCommandCheck: true})
	if err != nil {
		t.Fatalf("%s as a non-root master: %v", path, err)
	}
	return cfg
}

// imageSpec is one of deploy/container's images: its Containerfile and
// the Go packages its build stage compiles.
type imageSpec struct {
	path string
	pkgs []string
}

var (
	goImage  = imageSpec{containerfile, []string{".", "./examples/hello"}}
	phpImage = imageSpec{"../../deploy/container/Containerfile.php", []string{"."}}
)

// TestContainerfile checks the Go image's Containerfile against the
// repository: every COPY source exists and is in the build context, the
// context holds every file the build compiles, the build commands are the
// Makefile's, the OCI labels are there, and the image's USER, EXPOSE,
// HEALTHCHECK, STOPSIGNAL, ENTRYPOINT and CMD agree with the binaries and
// the pool it copies.
func TestContainerfile(t *testing.T) { checkContainerfile(t, goImage) }

// TestContainerfilePHP checks the PHP image's Containerfile the same way,
// and that the pool's php-cgi is the one the image installs.
func TestContainerfilePHP(t *testing.T) { checkContainerfile(t, phpImage) }

func checkContainerfile(t *testing.T, spec imageSpec) {
	img := parseContainerfile(t, spec.path)
	rules := ignoreRules(t, spec.path+".dockerignore")
	copies := img.copies(t)

	// Sources from the context exist and are not ignored.
	for _, c := range copies {
		if c.from >= 0 {
			continue
		}
		for _, s := range c.srcs {
			matches, _ := filepath.Glob(filepath.Join("../..", s))
			if len(matches) == 0 {
				t.Errorf("%s:%d: COPY source %s: no such file", spec.path, c.line, s)
			}
			kept := 0
			for _, m := range matches {
				rel, _ := filepath.Rel("../..", m)
				if !excluded(rules, rel) {
					kept++
				}
			}
			if kept == 0 {
				t.Errorf("%s:%d: COPY source %s is left out by its .dockerignore", spec.path, c.line, s)
			}
		}
	}
	// Every file the binaries are compiled from reaches the build stage.
	list := exec.Command("go", append([]string{"list", "-deps", "-f",
		`{{if .Module}}{{if eq .Module.Path "github.com/gofpm/gofpm"}}{{.Dir}}|{{join .GoFiles ","}}|{{join .EmbedFiles ","}}{{end}}{{end}}`},
		spec.pkgs...)...)
	list.Dir = "../.."
	list.Env = append(os.Environ(), "CGO_ENABLED=0") // as the build stage
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	repo, _ := filepath.Abs("../..")
	need := []string{"go.mod", "go.sum"}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		f := strings.Split(l, "|")
		dir, _ := filepath.Rel(repo, f[0])
		for _, name := range append(strings.Split(f[1], ","), strings.Split(f[2], ",")...) {
			if name != "" {
				need = append(need, filepath.ToSlash(filepath.Join(dir, name)))
			}
		}
	}
	for _, rel := range need {
		if !copiedFrom(copies, rel) || excluded(rules, rel) {
			t.Errorf("the build needs %s, which %s does not copy into the build stage", rel, spec.path)
		}
	}
	if len(need) < 20 {
		t.Errorf("go list found only %v", need)
	}

	// The build stage builds what the Makefile builds, for the packages
	// the image has.
	build := img.stageNames["build"]
	var built []goBuild
	for _, in := range img.instrs {
		if in.stage == build && in.cmd == "RUN" {
			built = append(built, parseGoBuilds(t, in.args)...)
		}
	}
	for _, want := range makefileBuilds(t) {
		if !slices.Contains(spec.pkgs, want.pkg) {
			continue
		}
		if !slices.Contains(built, want) {
			t.Errorf("the Makefile builds %+v; the build stage of %s does not (it has %+v)", want, spec.path, built)
		}
	}
	if len(built) != len(spec.pkgs) {
		t.Errorf("%s builds %+v, want one go build per package %v", spec.path, built, spec.pkgs)
	}
	if !slices.Contains(img.stageArgs[build], "VERSION") {
		t.Error("no ARG VERSION in the build stage for -X main.version")
	}
	checkOCILabels(t, spec.path, img)

	// The final stage: USER, ENTRYPOINT/CMD, HEALTHCHECK, STOPSIGNAL, EXPOSE.
	uid, gid := containerUser(t, img)
	if uid == 0 || gid == 0 {
		t.Errorf("USER %s: the image must not run as root", img.user)
	}
	dests := map[string]cfCopy{}
	for _, c := range copies {
		dests[c.dst] = c
	}
	bin := img.entrypoint[0]
	if c, ok := dests[bin]; !ok || c.from != build || filepath.Base(c.srcs[0]) != "gofpm" {
		t.Errorf("ENTRYPOINT %v: %s is not the gofpm binary the build stage makes", img.entrypoint, bin)
	}
	args := append(img.entrypoint[1:], img.cmd...)
	if len(args) == 0 || args[0] != "run" {
		t.Errorf("ENTRYPOINT + CMD %v: want gofpm run", append(img.entrypoint, img.cmd...))
	}
	conf := flagValue(args, "-c", "--config")
	c, ok := dests[conf]
	if !ok || c.from >= 0 {
		t.Fatalf("CMD's config %q is not a file the Containerfile copies", conf)
	}
	if slices.Index(args, "-R") >= 0 || slices.Index(args, "--allow-to-run-as-root") >= 0 {
		t.Error("CMD passes -R: the image's master is not root")
	}
	cfg := loadAsNonRoot(t, filepath.Join("../..", c.srcs[0]), uid)
	pool := cfg.Pools[cfg.PoolOrder[0]]
	cmd := pool.Command[0]
	if strings.HasPrefix(cmd, repo+"/") {
		// Relative to the pool file (the loader resolved it in the
		// checkout): the same relative path from the file in the image.
		srcConf, _ := filepath.Abs(filepath.Join("../..", c.srcs[0]))
		rel, _ := filepath.Rel(filepath.Dir(srcConf), cmd)
		cmd = filepath.Join(filepath.Dir(conf), rel)
	}
	if _, ok := dests[cmd]; !ok {
		checkInstalled(t, spec.path, img, cmd)
	}
	hc := img.healthcheck
	if len(hc) < 2 || hc[0] != bin || hc[1] != "ping" {
		t.Errorf("HEALTHCHECK %v: want %s ping", hc, bin)
	}
	// The health check asks the pool's socket (through a Go worker) or
	// pm_status_listen (the master: php-cgi has no ping page of its own).
	_, poolPort, _ := strings.Cut(pool.Listen, ":")
	if addr := flagValue(hc, "-s", "--socket"); addr != "127.0.0.1:"+poolPort && (pool.PMStatusListen == "" || addr != "unix:"+pool.PMStatusListen) {
		t.Errorf("HEALTHCHECK asks %q; the pool listens on %s, its pm_status_listen is %q", addr, pool.Listen, pool.PMStatusListen)
	}
	if strings.HasPrefix(pool.PMStatusListen, "/") && !imageMakesDir(img, filepath.Dir(pool.PMStatusListen), uid) {
		t.Errorf("pm_status_listen %s: the image makes no dir %s its user %d may write", pool.PMStatusListen, filepath.Dir(pool.PMStatusListen), uid)
	}
	if p := flagValue(hc, "--path"); pool.PingPath == "" || p != pool.PingPath {
		t.Errorf("HEALTHCHECK --path %q; the pool's ping_path is %q", p, pool.PingPath)
	}
	if img.stopSignal != "SIGQUIT" {
		t.Errorf("STOPSIGNAL %q: want SIGQUIT, gofpm's graceful stop", img.stopSignal)
	}
	// docker stop's default grace period is 10 s (the comment in pool.toml
	// and docs/containers.md say so).
	if d := cfg.ProcessControlTimeout.D(); d <= 0 || d >= 10*time.Second {
		t.Errorf("process_control_timeout %s: keep it below docker stop's 10 s default", d)
	}
	// docs/containers.md shows the health check and the timeout as they are.
	doc, err := os.ReadFile("../../docs/containers.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`CMD ["` + strings.Join(hc, `", "`) + `"]`,
		fmt.Sprintf("process_control_timeout = \"%s\"", cfg.ProcessControlTimeout.D()),
		"STOPSIGNAL " + img.stopSignal,
		strings.TrimPrefix(spec.path, "../../"),
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/containers.md does not show %s", want)
		}
	}
	wantPorts := []string{poolPort}
	if cfg.HTTP != nil {
		_, p, _ := strings.Cut(cfg.HTTP.Listen, ":")
		wantPorts = append(wantPorts, p)
	}
	for _, p := range wantPorts {
		if slices.Index(img.expose, p) < 0 {
			t.Errorf("EXPOSE %v lacks port %s of pool.toml", img.expose, p)
		}
	}
	for _, p := range img.expose {
		if slices.Index(wantPorts, p) < 0 {
			t.Errorf("EXPOSE %s: pool.toml listens on no such port", p)
		}
	}
}

// checkOCILabels: the org.opencontainers.image.* annotations registries
// and scanners read, with values that are true of the repository.
func checkOCILabels(t *testing.T, path string, img *cfImage) {
	t.Helper()
	final := img.instrs[len(img.instrs)-1].stage
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	module := strings.Fields(strings.SplitN(string(gomod), "\n", 2)[0])[1]
	license, err := os.ReadFile("../../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	spdx := ""
	if strings.Contains(string(license), "Apache License") && strings.Contains(string(license), "Version 2.0") {
		spdx = "Apache-2.0"
	}
	want := map[string]string{
		"source":    "https://" + module,
		"url":       "https://" + module,
		"licenses":  spdx,
		"version":   "${VERSION}",
		"revision":  "${REVISION}",
		"base.name": "docker.io/library/" + img.base,
	}
	for k, v := range want {
		if got := img.labels["org.opencontainers.image."+k]; got != v {
			t.Errorf("%s: LABEL org.opencontainers.image.%s=%q, want %q", path, k, got, v)
		}
	}
	for _, k := range []string{"title", "description", "documentation"} {
		if img.labels["org.opencontainers.image."+k] == "" {
			t.Errorf("%s: no LABEL org.opencontainers.image.%s", path, k)
		}
	}
	if doc := img.labels["org.opencontainers.image.documentation"]; doc != "" {
		rel, ok := strings.CutPrefix(doc, "https://"+module+"/blob/main/")
		if _, err := os.Stat(filepath.Join("../..", rel)); !ok || err != nil {
			t.Errorf("%s: documentation label %s is no file of the repository", path, doc)
		}
	}
	// The label's ${VERSION} is expanded from an ARG of the final stage
	// (an ARG is scoped to its stage).
	for _, a := range []string{"VERSION", "REVISION"} {
		if !slices.Contains(img.stageArgs[final], a) {
			t.Errorf("%s: no ARG %s in the final stage, so the label's ${%s} is empty", path, a, a)
		}
	}
}

// checkInstalled: an absolute program the image does not copy is one the
// final stage installs with apt-get: the Debian package that owns it here
// (dpkg -S) is in an apt-get install of a RUN.
func checkInstalled(t *testing.T, path string, img *cfImage, prog string) {
	t.Helper()
	out, err := exec.Command("dpkg", "-S", prog).Output()
	if err != nil {
		t.Skipf("dpkg -S %s: %v (not installed here: run make deps)", prog, err)
	}
	pkg, _, _ := strings.Cut(strings.TrimSpace(string(out)), ":")
	for _, run := range img.runs {
		for _, part := range strings.Split(run, "&&") {
			w := shellWords(strings.TrimSpace(part))
			for len(w) > 0 && strings.Contains(w[0], "=") {
				w = w[1:] // VAR=value prefixes
			}
			if len(w) > 2 && w[0] == "apt-get" && w[1] == "install" && slices.Contains(w, pkg) {
				return
			}
		}
	}
	t.Errorf("%s: the pool's command %s (Debian package %s) is neither copied nor installed by apt-get install %s", path, prog, pkg, pkg)
}

// imageMakesDir reports whether the final stage makes dir with install -d
// -o uid.
func imageMakesDir(img *cfImage, dir string, uid int) bool {
	for _, run := range img.runs {
		for _, part := range strings.Split(run, "&&") {
			w := shellWords(strings.TrimSpace(part))
			if len(w) > 2 && w[0] == "install" && w[1] == "-d" && slices.Contains(w, dir) && flagValue(w, "-o") == strconv.Itoa(uid) {
				return true
			}
		}
	}
	return false
}

// imageRun is an image's ENTRYPOINT + CMD running from a layout of its files.
type imageRun struct {
	img        *cfImage
	root       string // the layout; image path P is root+P
	uid, gid   int
	cfg        *config.Config
	pool       *config.Pool
	m          *master
	stdout     *syncBuffer
	fcgiPort   int
	base       string   // the HTTP front's URL
	healthArgv []string // HEALTHCHECK's CMD, paths and ports rewritten
}

// layoutPath maps an absolute image path to the layout when the layout
// has it (or its dir); other paths (php-cgi, installed by apt-get in the
// image) are the host's.
func (r *imageRun) layoutPath(p string) string {
	if _, err := os.Stat(filepath.Join(r.root, p)); err == nil {
		return filepath.Join(r.root, p)
	}
	if _, err := os.Stat(filepath.Join(r.root, filepath.Dir(p))); err == nil && filepath.Dir(p) != "/" {
		return filepath.Join(r.root, p)
	}
	return p
}

// startImage lays out an image's files, runs gofpm check on its pool as
// the image's USER, then ENTRYPOINT + CMD (the pool's fixed ports moved to
// free loopback ports, so parallel tests do not collide, and the image's
// absolute paths into the layout; nothing else changed) until the master
// is ready. The process and its workers are stopped by pid at cleanup.
func startImage(t *testing.T, spec imageSpec, prepare func(root string)) *imageRun {
	t.Helper()
	r := &imageRun{img: parseContainerfile(t, spec.path)}
	r.uid, r.gid = containerUser(t, r.img)
	r.root = imageLayout(t, r.img)
	if prepare != nil {
		prepare(r.root)
	}
	argv := append(append([]string{}, r.img.entrypoint...), r.img.cmd...)
	for i, a := range argv {
		if strings.HasPrefix(a, "/") {
			argv[i] = filepath.Join(r.root, a)
		}
	}
	conf := flagValue(argv, "-c")
	text, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	abs := regexp.MustCompile(`"(/[^"]*)"`)
	moved := abs.ReplaceAllStringFunc(string(text), func(q string) string { return `"` + r.layoutPath(q[1:len(q)-1]) + `"` })
	if err := os.WriteFile(conf, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	// gofpm check, as the image's user: no -R, the pool needs none.
	if code, out := runAs(t, []string{argv[0], "check", "-c", conf}, r.uid, r.gid); code != 0 {
		t.Fatalf("gofpm check on the image's pool.toml: exit %d\n%s", code, out)
	}
	r.cfg = loadAsNonRoot(t, conf, r.uid)
	r.pool = r.cfg.Pools[r.cfg.PoolOrder[0]]
	r.fcgiPort = freePort(t)
	httpPort := freePort(t)
	moved = strings.NewReplacer(
		`"`+r.pool.Listen+`"`, fmt.Sprintf(`"127.0.0.1:%d"`, r.fcgiPort),
		`"`+r.cfg.HTTP.Listen+`"`, fmt.Sprintf(`"127.0.0.1:%d"`, httpPort),
	).Replace(moved)
	if err := os.WriteFile(conf, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	r.m, r.stdout = startImageMaster(t, argv, r.uid, r.gid)
	r.m.waitFor("ready to handle connections", 15*time.Second)
	r.base = fmt.Sprintf("http://127.0.0.1:%d", httpPort)

	r.healthArgv = append([]string{}, r.img.healthcheck...)
	for i, a := range r.healthArgv {
		switch {
		case strings.HasPrefix(a, "127.0.0.1:"):
			r.healthArgv[i] = fmt.Sprintf("127.0.0.1:%d", r.fcgiPort)
		case strings.HasPrefix(a, "unix:/"):
			r.healthArgv[i] = "unix:" + r.layoutPath(a[len("unix:"):])
		case strings.HasPrefix(a, "/"):
			r.healthArgv[i] = r.layoutPath(a)
		}
	}
	return r
}

// healthy runs the HEALTHCHECK command as the image's user.
func (r *imageRun) healthy(t *testing.T) {
	t.Helper()
	if code, out := runAs(t, r.healthArgv, r.uid, r.gid); code != 0 || strings.TrimSpace(out) != "pong" {
		t.Fatalf("HEALTHCHECK %v: exit %d, %q", r.healthArgv, code, out)
	}
}

// stopGracefully sends the STOPSIGNAL with a request in flight (url, which
// answers after 1.5 s, beginning with want once the log shows started),
// and checks the request is answered and the master exits 0 within
// process_control_timeout; then that every log line is JSON.
func (r *imageRun) stopGracefully(t *testing.T, url, started, want string) {
	t.Helper()
	got := getAsync(http.DefaultClient, url)
	r.m.waitFor(started, 10*time.Second)
	sig, ok := map[string]syscall.Signal{"SIGQUIT": syscall.SIGQUIT, "SIGTERM": syscall.SIGTERM}[r.img.stopSignal]
	if !ok {
		t.Fatalf("STOPSIGNAL %q", r.img.stopSignal)
	}
	stopped := time.Now()
	if err := r.m.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if code := r.m.waitExit(r.cfg.ProcessControlTimeout.D() + 5*time.Second); code != 0 {
		t.Errorf("exit code %d after %s, want 0", code, r.img.stopSignal)
	}
	took := time.Since(stopped)
	a := <-got
	if a.err != nil || a.code != 200 || !strings.HasPrefix(a.body, want) {
		t.Errorf("request in flight during %s: %d %q %v", r.img.stopSignal, a.code, a.body, a.err)
	}
	t.Logf("stopped by %s in %s with a 1.5 s request in flight (process_control_timeout %s, docker stop waits 10 s)", r.img.stopSignal, took.Round(time.Millisecond), r.cfg.ProcessControlTimeout.D())

	// Not a terminal: every line of the master's log is JSON.
	lines, _ := r.m.snapshot()
	for _, l := range lines {
		if !json.Valid([]byte(l.raw)) {
			t.Errorf("log line is not JSON: %q", l.raw)
		}
	}
	if len(lines) == 0 {
		t.Error("no log lines on stderr")
	}
}

// workersRunAsImageUser: as root, the workers run as the image's USER.
func (r *imageRun) workersRunAsImageUser(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	if pids := r.m.workerPids(); len(pids) == 0 || procUID(t, pids[0]) != r.uid {
		t.Errorf("workers %v do not run as the image's user %d", pids, r.uid)
	}
}

// TestContainerImageRun runs the Go image's files as the image would:
// gofpm check on its pool, then ENTRYPOINT + CMD as the image's USER. The
// HEALTHCHECK command answers, requests go through the HTTP front, the log
// is JSON (no terminal), the access log reaches stdout, and the
// STOPSIGNAL lets a request in flight finish within the grace period.
func TestContainerImageRun(t *testing.T) {
	r := startImage(t, goImage, nil)
	r.healthy(t)
	if code, body := httpGet(t, http.DefaultClient, r.base+"/"); code != 200 || !strings.HasPrefix(body, "hello from gofpm worker") {
		t.Fatalf("GET /: %d %q", code, body)
	}
	eventually(t, 10*time.Second, "the access log line on stdout", func() bool {
		return strings.Contains(r.stdout.String(), `"GET /" 200`)
	})
	r.workersRunAsImageUser(t)
	r.stopGracefully(t, r.base+"/sleep?ms=1500", "sleeping 1500 ms", "slept 1500 ms")
}

// TestContainerPHPImageRun runs the PHP image's files the same way, with
// Debian's php-cgi8.2 (which the image installs) as the workers: the
// HEALTHCHECK answers through pm_status_listen, the image's index.php is
// the front's index, and a PHP request in flight (a script the test adds
// to /srv/www, where an application is mounted) finishes on STOPSIGNAL.
func TestContainerPHPImageRun(t *testing.T) {
	requirePHPCGI(t)
	r := startImage(t, phpImage, func(root string) {
		// php://stderr is php-cgi's own fd 2 (catch_workers_output), read
		// at once; error_log() would go out on FastCGI's stderr stream
		// with the answer, after the sleep.
		script := `<?php file_put_contents("php://stderr", "sleeping 1500 ms\n"); usleep(1500000); echo "slept 1500 ms\n";`
		if err := os.WriteFile(filepath.Join(root, "srv/www/sleep.php"), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	r.healthy(t)
	for _, path := range []string{"/", "/index.php"} {
		code, body := httpGet(t, http.DefaultClient, r.base+path)
		if code != 200 || !strings.HasPrefix(body, "hello from php-cgi 8.2") {
			t.Fatalf("GET %s: %d %q", path, code, body)
		}
	}
	// A pid from php-cgi itself: a worker of the pool answered.
	_, body := httpGet(t, http.DefaultClient, r.base+"/")
	pid, _ := strconv.Atoi(strings.TrimSpace(body[strings.LastIndex(body, "pid=")+4:]))
	if !slices.Contains(r.m.workerPids(), pid) {
		t.Errorf("answered by pid %d, not one of the pool's workers %v", pid, r.m.workerPids())
	}
	r.workersRunAsImageUser(t)
	r.stopGracefully(t, r.base+"/sleep.php", "sleeping 1500 ms", "slept 1500 ms")
}

// procUID is the real uid of a process, from /proc.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return -1
}
