package e2e

// Tests of deploy/systemd/gofpm.service beyond its text: systemd's own
// checker accepts it, and a master restricted to the unit's capabilities
// and no_new_privs (as systemd would start it) still does its work.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSystemdUnitVerify: `systemd-analyze verify` finds no unknown
// directive or bad value in the units (with the binary path pointed at the
// test's gofpm, which verify requires to exist).
func TestSystemdUnitVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	for _, name := range []string{"gofpm.service", "gofpm.socket"} {
		b, err := os.ReadFile(filepath.Join("../../deploy/systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), "/usr/local/bin/gofpm", bins.gofpm))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(sa, "verify", filepath.Join(dir, "gofpm.service"), filepath.Join(dir, "gofpm.socket")).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// capNumbers are the capability numbers of linux/capability.h.
var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
	"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_ADMIN": 21,
	"CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24,
}

// TestSystemdUnitCapabilities: a root master holding only the unit's
// CapabilityBoundingSet, under no_new_privs (setpriv does what systemd
// does), starts a php-cgi pool as nobody and still sees from the kernel
// that its worker is busy. Without CAP_SYS_PTRACE (ptrace access to
// another user's process) or without CAP_DAC_READ_SEARCH (its
// /proc/PID/fd is nobody's, mode 0500) the same worker looks idle
// throughout its request: that is why the unit keeps both.
func TestSystemdUnitCapabilities(t *testing.T) {
	needRoot(t)
	phpCGI := requirePHPCGI(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	if _, err := exec.LookPath("cgi-fcgi"); err != nil {
		t.Skip("cgi-fcgi not installed")
	}
	for _, c := range []struct {
		name     string
		caps     []string
		wantBusy bool
	}{
		{"the unit's capabilities", unitCapabilities, true},
		{"without CAP_SYS_PTRACE", without(unitCapabilities, "CAP_SYS_PTRACE"), false},
		{"without CAP_DAC_READ_SEARCH", without(unitCapabilities, "CAP_DAC_READ_SEARCH"), false},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			runCapped(t, setpriv, phpCGI, c.caps, c.wantBusy)
		})
	}
}

func without(list []string, s string) []string {
	var out []string
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

func runCapped(t *testing.T, setpriv, phpCGI string, caps []string, wantBusy bool) {
	dir := shortTempDir(t)
	script := filepath.Join(dir, "sleep.php")
	os.WriteFile(script, []byte(`<?php usleep(1500000); echo "slept";`), 0o644)
	var set []string
	var mask uint64
	for _, c := range caps {
		set = append(set, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
		mask |= 1 << capNumbers[c]
	}
	// A container may hold fewer capabilities than the unit names: the
	// master gets those of both.
	var own uint64
	fmt.Sscanf(regexp.MustCompile(`(?m)^CapBnd:\t([0-9a-f]+)$`).FindStringSubmatch(procFile(t, os.Getpid(), "status"))[1], "%x", &own)
	if need := uint64(1)<<capNumbers["CAP_SYS_PTRACE"] | 1<<capNumbers["CAP_DAC_READ_SEARCH"]; own&need != need {
		t.Skip("this test runs without CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH")
	}
	mask &= own
	wrapper := filepath.Join(dir, "gofpm-capped")
	os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\nexec %s --bounding-set=-all,%s --inh-caps=-all --no-new-privs -- %s \"$@\"\n",
		setpriv, strings.Join(set, ","), bins.gofpm)), 0o755)
	conf := writeConfig(t, dir, `
pid = "{{DIR}}/gofpm.pid"
[pool.php]
listen = "{{DIR}}/php.sock"
user = "nobody"
command = ["`+phpCGI+`"]
worker_graceful_signal = "SIGTERM"
pm = "static"
pm_max_children = 1
pm_status_path = "/status"
pm_status_listen = "{{DIR}}/status.sock"
`)
	h := startHanded(t, dir, wrapper, conf)
	eventually(t, 15*time.Second, "the master ready", func() bool { return h.logCount("ready to handle connections") > 0 })
	master := h.cmd.Process.Pid
	st := procFile(t, master, "status")
	for _, want := range []string{fmt.Sprintf(`(?m)^CapEff:\t%016x$`, mask), fmt.Sprintf(`(?m)^CapBnd:\t%016x$`, mask), `(?m)^NoNewPrivs:\t1$`} {
		if !regexp.MustCompile(want).MatchString(st) {
			t.Fatalf("master %d: /proc status does not match %s:\n%s", master, want, st)
		}
	}
	var worker int
	eventually(t, 10*time.Second, "the php-cgi worker", func() bool {
		kids := childrenOf(master)
		if len(kids) == 1 {
			worker = kids[0]
		}
		return worker != 0
	})
	// The worker is forked as root and drops to nobody in its exec step.
	nobody := regexp.MustCompile(`(?m)^Uid:\t65534\t65534\t65534\t65534$`)
	eventually(t, 10*time.Second, "the worker running as nobody", func() bool { return nobody.MatchString(procFile(t, worker, "status")) })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); fcgiSend(ctx, filepath.Join(dir, "php.sock"), script) }()
	active := func() int {
		_, body := splitCGI(t, cgiFCGI(t, filepath.Join(dir, "status.sock"), "/status", "json"))
		var s struct {
			Active int `json:"active processes"`
		}
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("status %q: %v", body, err)
		}
		return s.Active
	}
	seen := false
	for !seen {
		select {
		case <-done:
			if wantBusy {
				t.Fatalf("the request ended and the status page never showed the worker busy\nlog:\n%s", readFile(h.logPath))
			}
			return
		default:
		}
		seen = active() == 1
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
	if !wantBusy {
		t.Fatalf("the worker was seen busy with capabilities %v: the unit may not need the one left out", caps)
	}
	<-done
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
