package e2e

// The pods of deploy/kubernetes run here as processes (no cluster): gofpm
// from a layout of the image's files and Debian's nginx, as the pods' uids
// and fsGroup when the test runs as root.

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startPodNginx runs Debian's nginx on a pod's nginx.conf (paths already
// rewritten), as the nginx image does (-g 'daemon off;'), as uid with
// groups (the pod's fsGroup) when the test runs as root. It returns the
// process and a channel closed when it has exited; it is stopped by pid at
// cleanup, with its workers.
func startPodNginx(t *testing.T, conf string, uid int, groups ...int) (*exec.Cmd, <-chan struct{}, *syncBuffer) {
	t.Helper()
	dir, path := writeNginxConf(t, conf)
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
	stopOnCleanup(t, cmd, exited, 10*time.Second, func() {
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
// dir for the socket. nginx starts first (a native sidecar) and answers
// its startup probe; then gofpm, whose startup, liveness and readiness
// probes answer; requests pass. The stop order a native sidecar gives:
// with a request in flight, gofpm (a container) gets its SIGQUIT first
// (its preStop sleep only waits for the endpoint removal and is left out
// here); the request is answered through nginx, gofpm exits 0, and nginx,
// still running, gets its SIGQUIT only then and exits.
func TestKubeSidecarPod(t *testing.T) {
	img := parseContainerfile(t, containerfile)
	f := loadKube(t, "../../deploy/kubernetes/gofpm-sidecar.yaml")
	g := checkGofpmPod(t, f, "gofpm-sidecar", img)
	n := checkNginxPod(t, f, "gofpm-sidecar")
	requireNginx(t)
	layout := imageLayout(t, img)
	dirs := newPodDirs(t, "/run/gofpm", "/tmp")

	// The sidecar first, until its startup probe (GET /healthz) passes.
	nconf, sock := nginxListen(t, dirs.rewrite(n.conf), dirs["/tmp"])
	ng, nginxExited, _ := startPodNginx(t, nconf, n.uid, g.fsGroup)
	waitDial(t, "unix", sock)
	client := unixHTTPClient(sock)
	if code, body := httpGet(t, client, "http://pod"+n.c.StartupProbe.HTTPGet.Path); code != 200 || body != "ok\n" {
		t.Fatalf("nginx startup probe %s: %d %q", n.c.StartupProbe.HTTPGet.Path, code, body)
	}

	conf := filepath.Join(shortTempDir(t), "pool.toml")
	text := strings.ReplaceAll(dirs.rewrite(g.poolText), `"/app/`, `"`+layout+`/app/`)
	metrics := "127.0.0.1:" + strconv.Itoa(freePort(t))
	text = strings.Replace(text, `"`+g.metrics+`"`, `"`+metrics+`"`, 1)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := startImageMaster(t, g.podArgv(layout, conf), g.uid, g.gid, g.fsGroup)
	m.waitFor("ready to handle connections", 15*time.Second)
	scrapeMetrics(t, metrics, g.cfg.PoolOrder[0])

	if code, body := httpGet(t, client, "http://pod/"); code != 200 || !strings.HasPrefix(body, "hello from gofpm worker") {
		t.Fatalf("GET / through nginx: %d %q", code, body)
	}
	if code, _ := httpGet(t, client, "http://pod/status"); code != 404 {
		t.Errorf("GET /status through nginx: %d, want 404 (kept inside the pod)", code)
	}
	for what, p := range map[string][]string{"startup": g.startup, "liveness": g.liveness, "readiness": g.readiness} {
		if code, out := runAs(t, probeArgv(layout, dirs, p), g.uid, g.gid, g.fsGroup); code != 0 || strings.TrimSpace(out) != "pong" {
			t.Errorf("%s probe: exit %d, %q", what, code, out)
		}
	}

	// Pod deletion: a request in flight; gofpm gets the image's
	// STOPSIGNAL while nginx keeps running.
	got := getAsync(client, "http://pod/sleep?ms=1500")
	m.waitFor("sleeping 1500 ms", 10*time.Second)
	if err := m.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	if a := <-got; a.err != nil || a.code != 200 || !strings.HasPrefix(a.body, "slept 1500 ms") {
		t.Errorf("request in flight during gofpm's stop: %d %q %v", a.code, a.body, a.err)
	}
	stopped := time.Now()
	if code := m.waitExit(g.cfg.ProcessControlTimeout.D() + 5*time.Second); code != 0 {
		t.Errorf("gofpm exit code %d after SIGQUIT", code)
	}
	gofpmGone := time.Now()
	select {
	case <-nginxExited:
		t.Fatal("nginx exited before gofpm was stopped")
	default:
	}
	if code, body := httpGet(t, client, "http://pod/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("nginx /healthz after gofpm's exit: %d %q (the sidecar outlives the container)", code, body)
	}
	// Then the sidecar: nothing left to pass, it exits at once.
	if err := ng.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-nginxExited:
	case <-time.After(10 * time.Second):
		t.Fatal("nginx did not exit within 10s of SIGQUIT")
	}
	t.Logf("gofpm answered the 1.5 s request and exited %s after it; nginx stopped %s after gofpm",
		gofpmGone.Sub(stopped).Round(time.Millisecond), time.Since(gofpmGone).Round(time.Millisecond))
}

// TestKubeTCPPods runs the TCP manifest's processes: gofpm on its TCP pool
// (port 9000 moved to a free loopback port) and nginx with the upstream of
// the Service pointed there. Requests pass on kept connections, and both
// probes answer.
func TestKubeTCPPods(t *testing.T) {
	img := parseContainerfile(t, containerfile)
	f := loadKube(t, "../../deploy/kubernetes/gofpm-tcp.yaml")
	g := checkGofpmPod(t, f, "gofpm", img)
	n := checkNginxPod(t, f, "gofpm-nginx")
	requireNginx(t)
	layout := imageLayout(t, img)
	dirs := newPodDirs(t, "/run/gofpm")
	port := strconv.Itoa(freePort(t))
	_, poolPort, _ := strings.Cut(g.pool.Listen, ":")

	conf := filepath.Join(shortTempDir(t), "pool.toml")
	text := strings.ReplaceAll(dirs.rewrite(g.poolText), `"/app/`, `"`+layout+`/app/`)
	text = strings.Replace(text, `"`+g.pool.Listen+`"`, `"127.0.0.1:`+port+`"`, 1)
	metrics := "127.0.0.1:" + strconv.Itoa(freePort(t))
	text = strings.Replace(text, `"`+g.metrics+`"`, `"`+metrics+`"`, 1)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := startImageMaster(t, g.podArgv(layout, conf), g.uid, g.gid)
	m.waitFor("ready to handle connections", 15*time.Second)
	scrapeMetrics(t, metrics, g.cfg.PoolOrder[0])

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
	for what, p := range map[string][]string{"startup": g.startup, "liveness": g.liveness, "readiness": g.readiness} {
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
