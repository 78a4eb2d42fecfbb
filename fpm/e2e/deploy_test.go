package e2e

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// readUnit parses a systemd unit file into section -> key -> values.
func readUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a unit line: %q", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

// TestSystemdUnits: the units use what gofpm implements, and agree with
// each other and with the example pool.
func TestSystemdUnits(t *testing.T) {
	svc := readUnit(t, "../../deploy/systemd/gofpm.service")
	sock := readUnit(t, "../../deploy/systemd/gofpm.socket")
	s := svc["Service"]
	for k, want := range map[string]string{
		"Type": "notify", "NotifyAccess": "all", "KillSignal": "SIGQUIT",
		"ExecReload": "/usr/local/bin/gofpm reload -c /etc/gofpm/pool.toml",
		"PIDFile":    "/run/gofpm/gofpm.pid",
	} {
		if got := s[k]; len(got) != 1 || got[0] != want {
			t.Errorf("gofpm.service %s = %v, want %q", k, got, want)
		}
	}
	pool, err := os.ReadFile("../../deploy/systemd/pool.toml")
	if err != nil {
		t.Fatal(err)
	}
	name := sock["Socket"]["FileDescriptorName"]
	if len(name) != 1 || !strings.Contains(string(pool), "[pool."+name[0]+"]") {
		t.Errorf("FileDescriptorName %v names no pool of deploy/systemd/pool.toml", name)
	}
	listen := sock["Socket"]["ListenStream"]
	if len(listen) != 1 || !strings.Contains(string(pool), `listen = "`+listen[0]+`"`) {
		t.Errorf("ListenStream %v is not the pool's listen", listen)
	}
	if !strings.Contains(string(pool), `pid = "`+s["PIDFile"][0]+`"`) {
		t.Errorf("PIDFile is not the config's pid")
	}
	// The hardening (docs/systemd.md): what gofpm needs and nothing more.
	for k, want := range unitHardening {
		if got := s[k]; len(got) != 1 || got[0] != want {
			t.Errorf("gofpm.service %s = %v, want %q", k, got, want)
		}
	}
	caps := strings.Fields(strings.Join(s["CapabilityBoundingSet"], " "))
	if !slices.Equal(caps, unitCapabilities) {
		t.Errorf("CapabilityBoundingSet %v, want %v", caps, unitCapabilities)
	}
	for _, k := range []string{"MemoryDenyWriteExecute", "ProcSubset", "User", "AmbientCapabilities"} {
		if _, ok := s[k]; ok {
			t.Errorf("gofpm.service sets %s (see docs/systemd.md: workers or the master need it off)", k)
		}
	}
}

// unitHardening are the hardening settings of deploy/systemd/gofpm.service.
var unitHardening = map[string]string{
	"NoNewPrivileges": "yes", "RestrictSUIDSGID": "yes",
	"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes", "PrivateMounts": "yes",
	"LogsDirectory": "gofpm", "UMask": "0027",
	"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
	"ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes", "ProtectProc": "invisible",
	"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
	"RestrictNamespaces":      "yes", "RestrictRealtime": "yes", "LockPersonality": "yes",
	"SystemCallArchitectures": "native", "SystemCallFilter": "@system-service chroot", "SystemCallErrorNumber": "EPERM",
	"WatchdogSec": "30",
}

// unitCapabilities is the unit's CapabilityBoundingSet, in its order:
// TestSystemdUnitCapabilities runs a master with exactly these.
var unitCapabilities = []string{"CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_FOWNER", "CAP_KILL",
	"CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_SYS_RESOURCE", "CAP_SYS_NICE", "CAP_SYS_CHROOT", "CAP_NET_BIND_SERVICE"}
