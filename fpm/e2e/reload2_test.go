package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadNewBinaryAndPools: a gofpm binary replaced on disk takes over on
// SIGUSR2 (the new master logs the new version), and one reload adds a
// pool, removes one and changes one (pm_max_children 2 → 4), and no worker
// of the new master holds another pool's socket.
func TestReloadNewBinaryAndPools(t *testing.T) {
	dir := shortTempDir(t)
	bin := filepath.Join(dir, "gofpm")
	build := func(version, out string) {
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+version, "-o", out, "github.com/gofpm/gofpm")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v %s", version, err, b)
		}
	}
	build("reload-A", bin)
	conf := func(a int, withB, withC bool) string {
		s := `pid = "{{DIR}}/gofpm.pid"
[pool.a]
listen = "{{DIR}}/a.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = ` + strconv.Itoa(a) + `
pm_status_path = "/status"
pm_status_listen = "{{DIR}}/a-status.sock"
[pool.d]
listen = "{{DIR}}/d.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
pm_status_path = "/status"
pm_status_listen = "{{DIR}}/d-status.sock"
`
		if withB {
			s += "[pool.b]\nlisten = \"{{DIR}}/b.sock\"\ncommand = [\"{{HELLO}}\"]\npm = \"static\"\npm_max_children = 1\n"
		}
		if withC {
			s += "[pool.c]\nlisten = \"{{DIR}}/c.sock\"\ncommand = [\"{{HELLO}}\"]\npm = \"static\"\npm_max_children = 1\n"
		}
		return s
	}
	path := writeConfig(t, dir, conf(2, true, false))
	h := startHanded(t, dir, bin, path)
	cmd, current := h.cmd, h.current
	logHas := func(s string) bool { return h.logCount(s) > 0 }
	eventually(t, 10*time.Second, "first master up", func() bool { return len(childrenOf(cmd.Process.Pid)) == 4 })
	if !logHas("gofpm version reload-A") {
		t.Fatal("first master does not log its version")
	}
	// Replace the binary as a package manager does (new file, rename).
	build("reload-B", bin+".new")
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, conf(4, false, true))
	syscall.Kill(cmd.Process.Pid, syscall.SIGUSR2)
	eventually(t, 30*time.Second, "the new master", func() bool { return current() != cmd.Process.Pid && current() > 0 })
	newPid := current()
	if !logHas("gofpm version reload-B") {
		t.Errorf("the new master does not run the new binary")
	}
	eventually(t, 10*time.Second, "6 workers under the new master", func() bool { return len(childrenOf(newPid)) == 6 })
	eventually(t, 15*time.Second, "the old master gone", func() bool { return !alive(cmd.Process.Pid) })
	_, body := splitCGI(t, cgiFCGI(t, filepath.Join(dir, "a-status.sock"), "/status", ""))
	if !strings.Contains(body, "total processes:      4\n") {
		t.Errorf("pool a after the reload:\n%s", body)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.sock")); err != nil {
		t.Errorf("added pool c has no socket: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.sock")); !os.IsNotExist(err) {
		t.Errorf("removed pool b's socket is still there: %v", err)
	}
	_, body = splitCGI(t, cgiFCGI(t, filepath.Join(dir, "c.sock"), "/", ""))
	if !strings.HasPrefix(body, "hello from gofpm worker") {
		t.Errorf("pool c: %q", body)
	}
	// Each worker of the new master holds its own pool's socket and no
	// other: the sockets a master inherits must not leak into workers.
	listeners := boundUnixSockets(t, dir)
	for _, pid := range childrenOf(newPid) {
		var held []string
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if path, ok := listeners[target]; ok {
				held = append(held, fd.Name()+"="+filepath.Base(path))
			}
		}
		if len(held) != 1 || !strings.HasPrefix(held[0], "0=") {
			t.Errorf("worker %d holds the listening sockets %v, want only its own as fd 0", pid, held)
		}
	}
}

// boundUnixSockets maps "socket:[INODE]" to the path of every Unix socket
// bound under dir, from /proc/net/unix.
func boundUnixSockets(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 8 && strings.HasPrefix(f[7], dir) {
			out["socket:["+f[6]+"]"] = f[7]
		}
	}
	return out
}
