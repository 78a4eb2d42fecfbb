package e2e

// deploy/kubernetes: no cluster runs here, so the tests parse the manifests
// (yaml_test.go), check that their names, labels, ports, volumes, probes
// and grace periods agree with each other, with the ConfigMaps' pool.toml
// and nginx.conf and with the Containerfile, and then run the pods'
// processes for real: gofpm (image files laid out by imageLayout) and
// Debian's nginx, as the pods' uids and fsGroup when the test runs as root.

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
)

const gofpmImage = "gofpm:dev"

// kubeDoc is one manifest document.
type kubeDoc struct {
	kind, name string
	v          map[string]any
}

func yget(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func ystr(v any, path ...string) string { s, _ := yget(v, path...).(string); return s }
func yseq(v any, path ...string) []any  { s, _ := yget(v, path...).([]any); return s }
func ymapOf(v any, path ...string) map[string]any {
	m, _ := yget(v, path...).(map[string]any)
	return m
}

func ystrings(v any) []string {
	var out []string
	for _, x := range yseq(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func yint(t *testing.T, v any, path ...string) int {
	t.Helper()
	n, err := strconv.Atoi(ystr(v, path...))
	if err != nil {
		t.Fatalf("%s: not a number: %v", strings.Join(path, "."), yget(v, path...))
	}
	return n
}

var kubeAPIVersions = map[string]string{
	"ConfigMap": "v1", "Service": "v1", "Deployment": "apps/v1", "NetworkPolicy": "networking.k8s.io/v1",
}

func loadKube(t *testing.T, path string) []kubeDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := parseYAML(string(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []kubeDoc
	seen := map[string]bool{}
	for i, d := range docs {
		m, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("%s: document %d is not a mapping", path, i+1)
		}
		k := kubeDoc{kind: ystr(m, "kind"), name: ystr(m, "metadata", "name"), v: m}
		want, known := kubeAPIVersions[k.kind]
		switch {
		case !known:
			t.Errorf("%s: document %d: kind %q is not one this test checks", path, i+1, k.kind)
		case ystr(m, "apiVersion") != want:
			t.Errorf("%s: %s %s: apiVersion %q, want %q", path, k.kind, k.name, ystr(m, "apiVersion"), want)
		}
		if k.name == "" {
			t.Errorf("%s: document %d (%s) has no metadata.name", path, i+1, k.kind)
		}
		if seen[k.kind+"/"+k.name] {
			t.Errorf("%s: two %s named %q", path, k.kind, k.name)
		}
		seen[k.kind+"/"+k.name] = true
		out = append(out, k)
	}
	return out
}

func kubeFind(docs []kubeDoc, kind, name string) *kubeDoc {
	for i := range docs {
		if docs[i].kind == kind && docs[i].name == name {
			return &docs[i]
		}
	}
	return nil
}

// selects reports whether every label of sel is in labels.
func selects(sel, labels map[string]any) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// selected returns the one Deployment whose pods sel selects.
func selected(t *testing.T, docs []kubeDoc, sel map[string]any, who string) *kubeDoc {
	t.Helper()
	var found []*kubeDoc
	for i := range docs {
		if docs[i].kind == "Deployment" && selects(sel, ymapOf(docs[i].v, "spec", "template", "metadata", "labels")) {
			found = append(found, &docs[i])
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: selector %v selects %d Deployments' pods, want 1", who, sel, len(found))
	}
	return found[0]
}

func containers(d *kubeDoc) []any { return yseq(d.v, "spec", "template", "spec", "containers") }

// containerPort finds a container port of the Deployment by name or number.
func containerPort(d *kubeDoc, port string) (int, bool) {
	for _, c := range containers(d) {
		for _, p := range yseq(c, "ports") {
			if ystr(p, "name") == port || ystr(p, "containerPort") == port {
				n, err := strconv.Atoi(ystr(p, "containerPort"))
				return n, err == nil
			}
		}
	}
	return 0, false
}

// checkKubeRefs checks what makes a manifest hang together.
func checkKubeRefs(t *testing.T, docs []kubeDoc) {
	t.Helper()
	for _, d := range docs {
		switch d.kind {
		case "Deployment":
			spec := ymapOf(d.v, "spec", "template", "spec")
			labels := ymapOf(d.v, "spec", "template", "metadata", "labels")
			if !selects(ymapOf(d.v, "spec", "selector", "matchLabels"), labels) {
				t.Errorf("Deployment %s: spec.selector does not select its own pods", d.name)
			}
			if ystr(spec, "securityContext", "runAsNonRoot") != "true" {
				t.Errorf("Deployment %s: pod securityContext.runAsNonRoot is not true", d.name)
			}
			if yint(t, spec, "terminationGracePeriodSeconds") <= 0 {
				t.Errorf("Deployment %s: no terminationGracePeriodSeconds", d.name)
			}
			volumes := map[string]any{}
			for _, v := range yseq(spec, "volumes") {
				volumes[ystr(v, "name")] = v
				if cm := ystr(v, "configMap", "name"); cm != "" && kubeFind(docs, "ConfigMap", cm) == nil {
					t.Errorf("Deployment %s: volume %s names ConfigMap %q, which is not in the file", d.name, ystr(v, "name"), cm)
				}
			}
			for _, c := range containers(&d) {
				cn := ystr(c, "name")
				if cn == "" || ystr(c, "image") == "" {
					t.Errorf("Deployment %s: a container without name or image", d.name)
				}
				if u := ystr(c, "securityContext", "runAsUser"); u == "" || u == "0" {
					t.Errorf("Deployment %s, container %s: runAsUser %q, want a non-root uid", d.name, cn, u)
				}
				if ystr(c, "securityContext", "allowPrivilegeEscalation") != "false" {
					t.Errorf("Deployment %s, container %s: allowPrivilegeEscalation is not false", d.name, cn)
				}
				for _, m := range yseq(c, "volumeMounts") {
					v, ok := volumes[ystr(m, "name")]
					if !ok {
						t.Errorf("Deployment %s, container %s: volumeMount %q names no volume", d.name, cn, ystr(m, "name"))
						continue
					}
					if sp := ystr(m, "subPath"); sp != "" {
						cm := kubeFind(docs, "ConfigMap", ystr(v, "configMap", "name"))
						if cm == nil || ystr(cm.v, "data", sp) == "" {
							t.Errorf("Deployment %s, container %s: subPath %q is no key of the volume's ConfigMap", d.name, cn, sp)
						}
					}
				}
				for _, probe := range []string{"livenessProbe", "readinessProbe"} {
					p := ymapOf(c, probe)
					if p == nil {
						t.Errorf("Deployment %s, container %s: no %s", d.name, cn, probe)
						continue
					}
					if port := ystr(p, "httpGet", "port"); port != "" {
						if _, ok := containerPort(&d, port); !ok {
							t.Errorf("Deployment %s, container %s: %s port %q is no container port", d.name, cn, probe, port)
						}
					}
					if yget(p, "httpGet") == nil && len(yseq(p, "exec", "command")) == 0 {
						t.Errorf("Deployment %s, container %s: %s is neither httpGet nor exec", d.name, cn, probe)
					}
				}
				if len(yseq(c, "lifecycle", "preStop", "exec", "command")) == 0 {
					t.Errorf("Deployment %s, container %s: no preStop exec command", d.name, cn)
				}
			}
		case "Service":
			dep := selected(t, docs, ymapOf(d.v, "spec", "selector"), "Service "+d.name)
			for _, p := range yseq(d.v, "spec", "ports") {
				if _, ok := containerPort(dep, ystr(p, "targetPort")); !ok {
					t.Errorf("Service %s: targetPort %q is no container port of Deployment %s", d.name, ystr(p, "targetPort"), dep.name)
				}
			}
		case "NetworkPolicy":
			dep := selected(t, docs, ymapOf(d.v, "spec", "podSelector", "matchLabels"), "NetworkPolicy "+d.name)
			for _, rule := range yseq(d.v, "spec", "ingress") {
				for _, from := range yseq(rule, "from") {
					selected(t, docs, ymapOf(from, "podSelector", "matchLabels"), "NetworkPolicy "+d.name+" from")
				}
				for _, p := range yseq(rule, "ports") {
					if _, ok := containerPort(dep, ystr(p, "port")); !ok {
						t.Errorf("NetworkPolicy %s: port %s is no container port of Deployment %s", d.name, ystr(p, "port"), dep.name)
					}
				}
			}
		case "ConfigMap":
			if len(ymapOf(d.v, "data")) == 0 {
				t.Errorf("ConfigMap %s has no data", d.name)
			}
		}
	}
}

// mountedKey returns the ConfigMap data a container sees at path.
func mountedKey(t *testing.T, docs []kubeDoc, d *kubeDoc, c any, path string) string {
	t.Helper()
	for _, m := range yseq(c, "volumeMounts") {
		var vol any
		for _, v := range yseq(d.v, "spec", "template", "spec", "volumes") {
			if ystr(v, "name") == ystr(m, "name") {
				vol = v
			}
		}
		cm := kubeFind(docs, "ConfigMap", ystr(vol, "configMap", "name"))
		if cm == nil {
			continue
		}
		mp, sp := ystr(m, "mountPath"), ystr(m, "subPath")
		switch {
		case sp != "" && path == mp:
			return ystr(cm.v, "data", sp)
		case sp == "" && filepath.Dir(path) == mp:
			return ystr(cm.v, "data", filepath.Base(path))
		}
	}
	t.Fatalf("Deployment %s, container %s: %s is no ConfigMap key mounted there", d.name, ystr(c, "name"), path)
	return ""
}

// emptyDirAt reports whether dir is (under) the mount of an emptyDir volume.
func emptyDirAt(d *kubeDoc, c any, dir string) (mountPath, volume string) {
	for _, m := range yseq(c, "volumeMounts") {
		for _, v := range yseq(d.v, "spec", "template", "spec", "volumes") {
			if ystr(v, "name") == ystr(m, "name") && yget(v, "emptyDir") != nil &&
				(dir == ystr(m, "mountPath") || strings.HasPrefix(dir, ystr(m, "mountPath")+"/")) {
				return ystr(m, "mountPath"), ystr(v, "name")
			}
		}
	}
	return "", ""
}

func containerNamed(d *kubeDoc, image string) any {
	for _, c := range containers(d) {
		if strings.Contains(ystr(c, "image"), image) {
			return c
		}
	}
	return nil
}

// gofpmPod is what the tests take from a Deployment that runs gofpm.
type gofpmPod struct {
	dep        *kubeDoc
	c          any
	args       []string
	poolText   string
	cfg        *config.Config
	pool       *config.Pool
	liveness   []string
	readiness  []string
	preStop    []string
	grace      time.Duration
	uid, gid   int
	fsGroup    int
	imageEntry string
}

// checkGofpmPod checks the gofpm container of Deployment name against the
// Containerfile and its pool.toml, and runs gofpm check on that pool.
func checkGofpmPod(t *testing.T, docs []kubeDoc, name string, img *cfImage) *gofpmPod {
	t.Helper()
	g := &gofpmPod{dep: kubeFind(docs, "Deployment", name), imageEntry: img.entrypoint[0]}
	if g.dep == nil {
		t.Fatalf("no Deployment %s", name)
	}
	if g.c = containerNamed(g.dep, gofpmImage); g.c == nil {
		t.Fatalf("Deployment %s has no %s container", name, gofpmImage)
	}
	spec := ymapOf(g.dep.v, "spec", "template", "spec")
	g.grace = time.Duration(yint(t, spec, "terminationGracePeriodSeconds")) * time.Second
	if ystr(spec, "securityContext", "fsGroup") != "" {
		g.fsGroup = yint(t, spec, "securityContext", "fsGroup")
	}
	g.uid, g.gid = yint(t, g.c, "securityContext", "runAsUser"), yint(t, g.c, "securityContext", "runAsGroup")
	if u, gr := containerUser(t, img); u != g.uid || gr != g.gid {
		t.Errorf("Deployment %s: gofpm runs as %d:%d, the image's USER is %s", name, g.uid, g.gid, img.user)
	}
	if ystr(g.c, "securityContext", "readOnlyRootFilesystem") != "true" {
		t.Errorf("Deployment %s: gofpm's root filesystem is writable; it needs only its emptyDir", name)
	}
	if yget(g.c, "command") != nil {
		t.Errorf("Deployment %s: gofpm sets command; the image's ENTRYPOINT %v is the binary", name, img.entrypoint)
	}
	g.args = ystrings(yget(g.c, "args"))
	if len(g.args) == 0 || g.args[0] != "run" || slices.Contains(g.args, "-R") {
		t.Errorf("Deployment %s: args %v, want run -c FILE without -R", name, g.args)
	}
	if f := flagValue(g.args, "--log-format"); f != "json" {
		t.Errorf("Deployment %s: --log-format %q: want json for the cluster's log collector", name, f)
	}
	confPath := flagValue(g.args, "-c", "--config")
	g.poolText = mountedKey(t, docs, g.dep, g.c, confPath)

	// Validate the pool as the image's non-root user would.
	tmp := shortTempDir(t)
	orig := filepath.Join(tmp, "pool.toml")
	if err := os.WriteFile(orig, []byte(g.poolText), 0o644); err != nil {
		t.Fatal(err)
	}
	g.cfg = loadAsNonRoot(t, orig, g.uid)
	g.pool = g.cfg.Pools[g.cfg.PoolOrder[0]]
	if cmd := g.pool.Command[0]; !imageHas(t, img, cmd) {
		t.Errorf("Deployment %s: the pool's command %s is not in the image", name, cmd)
	}
	// The real gofpm check, as that user, with no -R: the command path
	// points into a layout of the image's files; the /run/gofpm socket
	// paths stay as they are (check does not need their directory).
	layout := imageLayout(t, img)
	checked := filepath.Join(tmp, "checked.toml")
	if err := os.WriteFile(checked, []byte(strings.ReplaceAll(g.poolText, `"/app/`, `"`+layout+`/app/`)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runAs(t, []string{bins.gofpm, "check", "-c", checked}, g.uid, g.gid); code != 0 {
		t.Errorf("Deployment %s: gofpm check on the ConfigMap's pool.toml: exit %d\n%s", name, code, out)
	}

	// Probes: the image's gofpm, asking the ping page of the pool.
	g.liveness = ystrings(yget(g.c, "livenessProbe", "exec", "command"))
	g.readiness = ystrings(yget(g.c, "readinessProbe", "exec", "command"))
	for what, p := range map[string][]string{"liveness": g.liveness, "readiness": g.readiness} {
		if len(p) < 2 || p[0] != g.imageEntry || p[1] != "ping" {
			t.Errorf("Deployment %s: %s probe %v: want %s ping", name, what, p, g.imageEntry)
		}
		if path := flagValue(p, "--path"); g.pool.PingPath == "" || path != g.pool.PingPath {
			t.Errorf("Deployment %s: %s probe --path %q, the pool's ping_path is %q", name, what, path, g.pool.PingPath)
		}
	}
	// Liveness asks the master (pm_status_listen), so busy workers do not
	// get a pod restarted; readiness goes through a worker.
	if s := flagValue(g.liveness, "-s"); g.pool.PMStatusListen == "" || s != "unix:"+g.pool.PMStatusListen {
		t.Errorf("Deployment %s: liveness asks %q, want unix:<pm_status_listen> (%q)", name, s, g.pool.PMStatusListen)
	}
	want := "unix:" + g.pool.Listen
	if !g.pool.IsUnix() {
		_, port, _ := strings.Cut(g.pool.Listen, ":")
		want = "127.0.0.1:" + port
	}
	if s := flagValue(g.readiness, "-s"); s != want {
		t.Errorf("Deployment %s: readiness asks %q, want %q (the pool's listen %s)", name, s, want, g.pool.Listen)
	}
	// Unix sockets live in an emptyDir (the root filesystem is read-only).
	for _, p := range []string{g.pool.Listen, g.pool.PMStatusListen} {
		if strings.HasPrefix(p, "/") {
			if mp, _ := emptyDirAt(g.dep, g.c, filepath.Dir(p)); mp == "" {
				t.Errorf("Deployment %s: socket %s is in no emptyDir of the gofpm container", name, p)
			}
		}
	}
	g.preStop = ystrings(yget(g.c, "lifecycle", "preStop", "exec", "command"))
	return g
}

// imageHas reports whether the image copies a file to path.
func imageHas(t *testing.T, img *cfImage, path string) bool {
	for _, c := range img.copies(t) {
		if c.dst == path {
			return true
		}
	}
	return false
}

// nginxPod is the nginx container of a Deployment and its nginx.conf.
type nginxPod struct {
	dep     *kubeDoc
	c       any
	conf    string
	preStop []string
	grace   time.Duration
	uid     int
}

func checkNginxPod(t *testing.T, docs []kubeDoc, name string) *nginxPod {
	t.Helper()
	n := &nginxPod{dep: kubeFind(docs, "Deployment", name)}
	if n.dep == nil {
		t.Fatalf("no Deployment %s", name)
	}
	if n.c = containerNamed(n.dep, "nginx"); n.c == nil {
		t.Fatalf("Deployment %s has no nginx container", name)
	}
	n.conf = mountedKey(t, docs, n.dep, n.c, "/etc/nginx/nginx.conf")
	n.preStop = ystrings(yget(n.c, "lifecycle", "preStop", "exec", "command"))
	n.grace = time.Duration(yint(t, n.dep.v, "spec", "template", "spec", "terminationGracePeriodSeconds")) * time.Second
	n.uid = yint(t, n.c, "securityContext", "runAsUser")
	port := nginxDirective(t, n.conf, "listen")
	if _, ok := containerPort(n.dep, port); !ok {
		t.Errorf("Deployment %s: nginx listens on %s, which is no container port", name, port)
	}
	if strings.Contains(n.conf, "daemon off") {
		t.Errorf("nginx.conf sets daemon off: the nginx image's command already passes -g 'daemon off;'")
	}
	// Temp files and the pid file go where the container can write.
	for _, p := range regexp.MustCompile(`(?m)^\s*(?:pid|\w+_temp_path)\s+(\S+);`).FindAllStringSubmatch(n.conf, -1) {
		if mp, _ := emptyDirAt(n.dep, n.c, filepath.Dir(p[1])); mp == "" {
			t.Errorf("Deployment %s: nginx writes %s, in no emptyDir (read-only root)", name, p[1])
		}
	}
	return n
}

// nginxDirective returns the first argument of the first name directive.
func nginxDirective(t *testing.T, conf, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + name + `\s+([^;\s]+)[^;]*;`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatalf("nginx.conf has no %s directive", name)
	}
	return m[1]
}

// sleepSeconds reads the N of a preStop ["sleep", "N"].
func sleepSeconds(t *testing.T, cmd []string) time.Duration {
	t.Helper()
	if len(cmd) != 2 || cmd[0] != "sleep" {
		t.Fatalf("preStop %v: want [sleep N]", cmd)
	}
	n, err := strconv.Atoi(cmd[1])
	if err != nil {
		t.Fatalf("preStop %v: %v", cmd, err)
	}
	return time.Duration(n) * time.Second
}

// nginxTest runs nginx -t on conf (skipped, or failed under CI, without nginx).
func nginxTest(t *testing.T, conf string) {
	t.Helper()
	requireNginx(t)
	dir := shortTempDir(t)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginxBin, "-t", "-q", "-e", "stderr", "-p", dir, "-c", path).CombinedOutput()
	if err != nil {
		t.Errorf("nginx -t: %v\n%s\n%s", err, out, conf)
	}
}

func requireNginx(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx is not installed (make deps installs it): %v", err)
		}
		t.Skip("nginx is not installed; run make deps")
	}
}

// podDirs stands for a pod's emptyDirs: mountPath -> a temp dir anyone in
// the pod can write (emptyDir's 0777).
type podDirs map[string]string

func newPodDirs(t *testing.T, paths ...string) podDirs {
	t.Helper()
	base := shortTempDir(t)
	p := podDirs{}
	for i, mp := range paths {
		d := filepath.Join(base, strconv.Itoa(i))
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777) // past the umask
		p[mp] = d
	}
	return p
}

// rewrite maps the pod's absolute paths in s to the test's dirs.
func (p podDirs) rewrite(s string) string {
	var pairs []string
	for mp, d := range p {
		pairs = append(pairs, mp+"/", d+"/", mp+" ", d+" ", mp+";", d+";", mp+`"`, d+`"`)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// TestKubeManifests checks both manifests: references inside each file,
// the gofpm and nginx containers against the Containerfile, the pool.toml
// and nginx.conf of the ConfigMaps (gofpm check, nginx -t), and the stop
// budget of each pod.
func TestKubeManifests(t *testing.T) {
	img := parseContainerfile(t, containerfile)

	t.Run("sidecar", func(t *testing.T) {
		docs := loadKube(t, "../../deploy/kubernetes/gofpm-sidecar.yaml")
		checkKubeRefs(t, docs)
		g := checkGofpmPod(t, docs, "gofpm-sidecar", img)
		n := checkNginxPod(t, docs, "gofpm-sidecar")
		if !g.pool.IsUnix() {
			t.Fatalf("the sidecar pool listens on %s, want a Unix socket", g.pool.Listen)
		}
		// nginx passes to the pool's socket, in a dir both containers share.
		if pass := nginxDirective(t, n.conf, "fastcgi_pass"); pass != "unix:"+g.pool.Listen {
			t.Errorf("nginx fastcgi_pass %s, the pool listens on %s", pass, g.pool.Listen)
		}
		gm, gv := emptyDirAt(g.dep, g.c, filepath.Dir(g.pool.Listen))
		nm, nv := emptyDirAt(n.dep, n.c, filepath.Dir(g.pool.Listen))
		if gv == "" || gv != nv || gm != nm {
			t.Errorf("the socket dir %s is not one emptyDir mounted at the same path in both containers (%s at %s, %s at %s)",
				filepath.Dir(g.pool.Listen), gv, gm, nv, nm)
		}
		// nginx (another uid) gets in through the pod's fsGroup.
		if g.fsGroup == 0 || g.pool.ListenGroup != strconv.Itoa(g.fsGroup) || g.pool.ListenMode != "0660" {
			t.Errorf("listen_group %q / listen_mode %q: want the pod's fsGroup %d and 0660",
				g.pool.ListenGroup, g.pool.ListenMode, g.fsGroup)
		}
		// Stop order: gofpm's preStop waits for nginx's pid file to go.
		pid := nginxDirective(t, n.conf, "pid")
		if pm, _ := emptyDirAt(g.dep, g.c, filepath.Dir(pid)); pm == "" {
			t.Errorf("nginx's pid file %s is not visible in the gofpm container", pid)
		}
		script := strings.Join(g.preStop, " ")
		m := regexp.MustCompile(`while \[ -e (\S+) \] && \[ \$i -lt (\d+) \]`).FindStringSubmatch(script)
		if len(g.preStop) != 3 || g.preStop[0] != "/bin/sh" || m == nil || m[1] != pid {
			t.Fatalf("gofpm preStop %v: want /bin/sh -c waiting for %s to go, bounded", g.preStop, pid)
		}
		wait, _ := strconv.Atoi(m[2])
		waitMax := time.Duration(wait) * time.Second
		nginxSleep := sleepSeconds(t, n.preStop)
		if waitMax < nginxSleep+g.pool.RequestTerminateTimeout.D() {
			t.Errorf("gofpm waits at most %s for nginx, less than nginx's preStop %s + request_terminate_timeout %s",
				waitMax, nginxSleep, g.pool.RequestTerminateTimeout.D())
		}
		if g.grace < waitMax+g.cfg.ProcessControlTimeout.D()+5*time.Second {
			t.Errorf("terminationGracePeriodSeconds %s < the wait for nginx %s + process_control_timeout %s + 5s",
				g.grace, waitMax, g.cfg.ProcessControlTimeout.D())
		}
		nginxTest(t, newPodDirs(t, "/run/gofpm", "/tmp").rewrite(n.conf))
		kubeDocShows(t, fmt.Sprintf("terminationGracePeriodSeconds: %d", int(g.grace.Seconds())),
			fmt.Sprintf("at most %d s", wait), fmt.Sprintf("`fsGroup: %d`", g.fsGroup))
	})

	t.Run("tcp", func(t *testing.T) {
		docs := loadKube(t, "../../deploy/kubernetes/gofpm-tcp.yaml")
		checkKubeRefs(t, docs)
		g := checkGofpmPod(t, docs, "gofpm", img)
		n := checkNginxPod(t, docs, "gofpm-nginx")
		host, port, ok := strings.Cut(g.pool.Listen, ":")
		if !ok || host != "0.0.0.0" {
			t.Fatalf("the TCP pool listens on %q, want 0.0.0.0:PORT (the pod's addresses)", g.pool.Listen)
		}
		if p, ok := containerPort(g.dep, port); !ok || strconv.Itoa(p) != port {
			t.Errorf("the gofpm container declares no port %s", port)
		}
		// The upstream names the Service that selects the gofpm pods, on
		// the Service's port that leads to the pool's port.
		up := regexp.MustCompile(`(?s)upstream gofpm \{(.*?)\n\s*\}`).FindStringSubmatch(n.conf)
		if up == nil {
			t.Fatal("nginx.conf has no upstream gofpm")
		}
		servers := regexp.MustCompile(`(?m)^\s*server\s+(\S+):(\d+)`).FindAllStringSubmatch(up[1], -1)
		if len(servers) == 0 {
			t.Fatal("upstream gofpm has no server")
		}
		for _, s := range servers {
			svc := kubeFind(docs, "Service", s[1])
			if svc == nil {
				t.Errorf("upstream server %s:%s: no Service %s", s[1], s[2], s[1])
				continue
			}
			if dep := selected(t, docs, ymapOf(svc.v, "spec", "selector"), "Service "+svc.name); dep != g.dep {
				t.Errorf("Service %s selects %s, not the gofpm pods", svc.name, dep.name)
			}
			found := false
			for _, p := range yseq(svc.v, "spec", "ports") {
				if ystr(p, "port") == s[2] {
					cp, _ := containerPort(g.dep, ystr(p, "targetPort"))
					found = strconv.Itoa(cp) == port
				}
			}
			if !found {
				t.Errorf("upstream server %s:%s does not lead to the pool's port %s", s[1], s[2], port)
			}
		}
		if pass := nginxDirective(t, n.conf, "fastcgi_pass"); pass != "gofpm" {
			t.Errorf("fastcgi_pass %s, want the upstream gofpm", pass)
		}
		for _, d := range []string{"fastcgi_keep_conn on", "fastcgi_next_upstream error timeout"} {
			if !strings.Contains(n.conf, d+";") {
				t.Errorf("nginx.conf lacks %s;", d)
			}
		}
		// Kept idle connections each hold a gofpm worker: fewer of them
		// than workers in all (docs/scaling.md).
		kept := yint(t, n.dep.v, "spec", "replicas") * atoi(t, nginxDirective(t, n.conf, "worker_processes")) * atoi(t, nginxDirective(t, up[1], "keepalive"))
		workers := yint(t, g.dep.v, "spec", "replicas") * g.pool.PMMaxChildren
		if kept >= workers {
			t.Errorf("nginx may keep %d idle connections, gofpm has %d workers in all", kept, workers)
		}
		// Stop budgets.
		if s := sleepSeconds(t, g.preStop); g.grace < s+g.cfg.ProcessControlTimeout.D()+5*time.Second {
			t.Errorf("gofpm: terminationGracePeriodSeconds %s < preStop %s + process_control_timeout %s + 5s", g.grace, s, g.cfg.ProcessControlTimeout.D())
		}
		if s := sleepSeconds(t, n.preStop); n.grace < s+g.pool.RequestTerminateTimeout.D()+5*time.Second {
			t.Errorf("nginx: terminationGracePeriodSeconds %s < preStop %s + request_terminate_timeout %s + 5s", n.grace, s, g.pool.RequestTerminateTimeout.D())
		}
		kubeDocShows(t, fmt.Sprintf("terminationGracePeriodSeconds: %d", int(g.grace.Seconds())),
			fmt.Sprintf("(%d × %d × %d = %d)", yint(t, n.dep.v, "spec", "replicas"), atoi(t, nginxDirective(t, n.conf, "worker_processes")), atoi(t, nginxDirective(t, up[1], "keepalive")), kept),
			fmt.Sprintf("(%d × %d = %d)", yint(t, g.dep.v, "spec", "replicas"), g.pool.PMMaxChildren, workers))
		// nginx -t, the Service name (resolved at start) pointed at loopback.
		nginxTest(t, strings.ReplaceAll(newPodDirs(t, "/tmp").rewrite(n.conf), "server gofpm:", "server 127.0.0.1:"))
	})
}

// kubeDocShows fails unless docs/kubernetes.md says each of the numbers
// the manifests have.
func kubeDocShows(t *testing.T, want ...string) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/kubernetes.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), w) {
			t.Errorf("docs/kubernetes.md does not say %q", w)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// startPodNginx runs Debian's nginx on a pod's nginx.conf (paths already
// rewritten), as the nginx image does (-g 'daemon off;'), as uid with
// groups (the pod's fsGroup) when the test runs as root. It returns the
// process and a channel closed when it has exited; it is stopped by pid at
// cleanup, with its workers.
func startPodNginx(t *testing.T, conf string, uid int, groups ...int) (*exec.Cmd, <-chan struct{}, *syncBuffer) {
	t.Helper()
	requireNginx(t)
	dir := shortTempDir(t)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxBin, "-e", "stderr", "-p", dir, "-c", path, "-g", "daemon off;")
	asUser(cmd, uid, uid, groups...)
	outR, outW := stdioPipe(t, uid, uid)
	cmd.Stdout, cmd.Stderr = outW, outW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	out := &syncBuffer{}
	copied := make(chan struct{})
	go func() { io.Copy(out, outR); close(copied) }()
	exited := make(chan struct{})
	go func() { cmd.Wait(); <-copied; close(exited) }()
	t.Cleanup(func() {
		kids := childrenOf(cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		for _, k := range kids {
			if alive(k) {
				syscall.Kill(k, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("nginx output:\n%s", out.String())
		}
	})
	return cmd, exited, out
}

// nginxListen rewrites nginx's TCP listen port to a Unix socket in dir and
// waits there for nginx after start; it returns the socket path.
func nginxListen(t *testing.T, conf, dir string) (string, string) {
	t.Helper()
	sock := filepath.Join(dir, "http.sock")
	port := nginxDirective(t, conf, "listen")
	return strings.Replace(conf, "listen "+port+";", "listen unix:"+sock+";", 1), sock
}

func waitDial(t *testing.T, network, addr string) {
	t.Helper()
	eventually(t, 10*time.Second, network+" "+addr, func() bool {
		c, err := net.Dial(network, addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// podArgv is the gofpm container's command line: the image's ENTRYPOINT
// and the container's args, the config path pointing at conf.
func (g *gofpmPod) podArgv(layout, conf string) []string {
	argv := append([]string{filepath.Join(layout, g.imageEntry)}, g.args...)
	for i := range argv {
		if i > 0 && (argv[i-1] == "-c" || argv[i-1] == "--config") {
			argv[i] = conf
		}
	}
	return argv
}

// probeArgv is a probe's exec command with the image's paths and the pod's
// dirs rewritten.
// A program the image does not copy (/bin/sh) is the base image's; Debian
// here has it too.
func probeArgv(layout string, dirs podDirs, p []string) []string {
	out := []string{p[0]}
	if _, err := os.Stat(filepath.Join(layout, p[0])); err == nil {
		out[0] = filepath.Join(layout, p[0])
	}
	for _, a := range p[1:] {
		out = append(out, strings.TrimSuffix(dirs.rewrite(a+" "), " "))
	}
	return out
}

// TestKubeSidecarPod runs the sidecar pod's two processes as the pod would:
// gofpm as uid 10001 and nginx as uid 101, both in the fsGroup, sharing a
// dir for the socket and nginx's pid file. Requests pass, the probes
// answer, and the stop order holds: with a request in flight, nginx gets
// its SIGQUIT while gofpm's preStop runs; the request is answered, the
// preStop returns only once nginx has exited, and gofpm's own SIGQUIT
// after it exits 0.
func TestKubeSidecarPod(t *testing.T) {
	img := parseContainerfile(t, containerfile)
	docs := loadKube(t, "../../deploy/kubernetes/gofpm-sidecar.yaml")
	g := checkGofpmPod(t, docs, "gofpm-sidecar", img)
	n := checkNginxPod(t, docs, "gofpm-sidecar")
	requireNginx(t)
	layout := imageLayout(t, img)
	dirs := newPodDirs(t, "/run/gofpm", "/tmp")

	conf := filepath.Join(shortTempDir(t), "pool.toml")
	text := strings.ReplaceAll(dirs.rewrite(g.poolText), `"/app/`, `"`+layout+`/app/`)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := startImageMaster(t, g.podArgv(layout, conf), g.uid, g.gid, g.fsGroup)
	m.waitFor("ready to handle connections", 15*time.Second)

	nconf, sock := nginxListen(t, dirs.rewrite(n.conf), dirs["/tmp"])
	ng, nginxExited, _ := startPodNginx(t, nconf, n.uid, g.fsGroup)
	waitDial(t, "unix", sock)
	client := unixHTTPClient(sock)
	if code, body := httpGet(t, client, "http://pod/"); code != 200 || !strings.HasPrefix(body, "hello from gofpm worker") {
		t.Fatalf("GET / through nginx: %d %q", code, body)
	}
	if code, _ := httpGet(t, client, "http://pod/status"); code != 404 {
		t.Errorf("GET /status through nginx: %d, want 404 (kept inside the pod)", code)
	}
	if code, body := httpGet(t, client, "http://pod/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("nginx /healthz: %d %q", code, body)
	}
	for what, p := range map[string][]string{"liveness": g.liveness, "readiness": g.readiness} {
		if code, out := runAs(t, probeArgv(layout, dirs, p), g.uid, g.gid, g.fsGroup); code != 0 || strings.TrimSpace(out) != "pong" {
			t.Errorf("%s probe: exit %d, %q", what, code, out)
		}
	}

	// Pod deletion: a request in flight; nginx gets its stop signal
	// (SIGQUIT, the nginx image's STOPSIGNAL; its preStop sleep only waits
	// for the endpoint removal and is left out here) while gofpm's preStop
	// runs.
	got := getAsync(client, "http://pod/sleep?ms=1500")
	m.waitFor("sleeping 1500 ms", 10*time.Second)
	argv := probeArgv(layout, dirs, g.preStop)
	preStop := exec.Command(argv[0], argv[1:]...)
	asUser(preStop, g.uid, g.gid, g.fsGroup)
	if err := preStop.Start(); err != nil {
		t.Fatal(err)
	}
	preStopDone := make(chan time.Time, 1)
	go func() {
		preStop.Wait()
		preStopDone <- time.Now()
	}()
	t.Cleanup(func() {
		select {
		case <-preStopDone:
		default:
			preStop.Process.Kill()
		}
	})
	if err := ng.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	var nginxGone time.Time
	select {
	case <-nginxExited:
		nginxGone = time.Now()
	case <-time.After(20 * time.Second):
		t.Fatal("nginx did not exit within 20s of SIGQUIT")
	}
	if a := <-got; a.err != nil || a.code != 200 || !strings.HasPrefix(a.body, "slept 1500 ms") {
		t.Errorf("request in flight during the stop: %d %q %v", a.code, a.body, a.err)
	}
	var done time.Time
	select {
	case done = <-preStopDone:
	case <-time.After(10 * time.Second):
		t.Fatal("gofpm's preStop did not return within 10s of nginx's exit")
	}
	if done.Before(nginxGone) {
		t.Errorf("gofpm's preStop returned before nginx exited")
	}
	if err := m.cmd.Process.Signal(syscall.SIGQUIT); err != nil { // the image's STOPSIGNAL
		t.Fatal(err)
	}
	if code := m.waitExit(g.cfg.ProcessControlTimeout.D() + 5*time.Second); code != 0 {
		t.Errorf("gofpm exit code %d after SIGQUIT", code)
	}
	t.Logf("nginx drained a 1.5 s request and exited; gofpm's preStop returned %s later", done.Sub(nginxGone).Round(time.Millisecond))
}

// TestKubeTCPPods runs the TCP manifest's processes: gofpm on its TCP pool
// (port 9000 moved to a free loopback port) and nginx with the upstream of
// the Service pointed there. Requests pass on kept connections, and both
// probes answer.
func TestKubeTCPPods(t *testing.T) {
	img := parseContainerfile(t, containerfile)
	docs := loadKube(t, "../../deploy/kubernetes/gofpm-tcp.yaml")
	g := checkGofpmPod(t, docs, "gofpm", img)
	n := checkNginxPod(t, docs, "gofpm-nginx")
	requireNginx(t)
	layout := imageLayout(t, img)
	dirs := newPodDirs(t, "/run/gofpm")
	port := strconv.Itoa(freePort(t))
	_, poolPort, _ := strings.Cut(g.pool.Listen, ":")

	conf := filepath.Join(shortTempDir(t), "pool.toml")
	text := strings.ReplaceAll(dirs.rewrite(g.poolText), `"/app/`, `"`+layout+`/app/`)
	text = strings.Replace(text, `"`+g.pool.Listen+`"`, `"127.0.0.1:`+port+`"`, 1)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := startImageMaster(t, g.podArgv(layout, conf), g.uid, g.gid)
	m.waitFor("ready to handle connections", 15*time.Second)

	ndirs := newPodDirs(t, "/tmp")
	nconf, sock := nginxListen(t, ndirs.rewrite(n.conf), ndirs["/tmp"])
	nconf = regexp.MustCompile(`server gofpm:\d+`).ReplaceAllString(nconf, "server 127.0.0.1:"+port)
	_, _, _ = startPodNginx(t, nconf, n.uid)
	waitDial(t, "unix", sock)
	client := unixHTTPClient(sock)
	pids := map[int]bool{}
	for range 6 {
		code, body := httpGet(t, client, "http://pod/")
		if code != 200 || !strings.HasPrefix(body, "hello from gofpm worker") {
			t.Fatalf("GET / through nginx: %d %q", code, body)
		}
		pids[pidOfBody(body)] = true
	}
	t.Logf("6 requests answered by %d worker(s)", len(pids))
	for what, p := range map[string][]string{"liveness": g.liveness, "readiness": g.readiness} {
		argv := probeArgv(layout, dirs, p)
		for i, a := range argv {
			if a == "127.0.0.1:"+poolPort {
				argv[i] = "127.0.0.1:" + port
			}
		}
		if code, out := runAs(t, argv, g.uid, g.gid); code != 0 || strings.TrimSpace(out) != "pong" {
			t.Errorf("%s probe %v: exit %d, %q", what, argv, code, out)
		}
	}
}
