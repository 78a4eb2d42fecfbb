package config

// Tests of the resolved values Load gives beside the raw strings: the
// network and addresses of listeners, users and groups given by number,
// signal names and trusted proxies.

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// loadPool loads one pool with the given extra keys and returns it.
func loadPool(t *testing.T, extra string, o LoadOptions) *Pool {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gofpm.toml")
	body := "[pool.www]\ncommand = [\"/bin/sh\"]\npm = \"static\"\npm_max_children = 1\n" + extra
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, o)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg.Pools["www"]
}

func TestResolveListen(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Addr
	}{
		{"/run/www.sock", Addr{"unix", "/run/www.sock", "/run/www.sock"}},
		{"unix:/run/www.sock", Addr{"unix", "/run/www.sock", "/run/www.sock"}},
		{"9000", Addr{"tcp", ":9000", "127.0.0.1:9000"}},
		{":9000", Addr{"tcp", ":9000", "127.0.0.1:9000"}},
		{"127.0.0.1:9000", Addr{"tcp", "127.0.0.1:9000", "127.0.0.1:9000"}},
		{"[::1]:9000", Addr{"tcp", "[::1]:9000", "[::1]:9000"}},
		{"localhost:9000", Addr{"tcp", "localhost:9000", "localhost:9000"}},
	} {
		// pm_status_listen: the same form on another port or path.
		other := strings.NewReplacer("9000", "9001", ".sock", "-status.sock").Replace
		p := loadPool(t, "listen = \""+tc.in+"\"\npm_status_path = \"/status\"\npm_status_listen = \""+other(tc.in)+"\"\n", LoadOptions{Euid: 1000})
		if p.ListenAddr != tc.want {
			t.Errorf("listen %q: %+v, want %+v", tc.in, p.ListenAddr, tc.want)
		}
		if p.IsUnix() != (tc.want.Network == "unix") {
			t.Errorf("listen %q: IsUnix %v", tc.in, p.IsUnix())
		}
		if w := (Addr{tc.want.Network, other(tc.want.Address), other(tc.want.Dial)}); p.StatusAddr != w {
			t.Errorf("pm_status_listen %q: %+v, want %+v", other(tc.in), p.StatusAddr, w)
		}
	}
	if p := loadPool(t, "listen = \"/run/www.sock\"\n", LoadOptions{Euid: 1000}); p.StatusAddr != (Addr{}) {
		t.Errorf("no pm_status_listen: %+v", p.StatusAddr)
	}
}

func TestResolveSocketSettings(t *testing.T) {
	p := loadPool(t, `listen = "/run/www.sock"
listen_mode = "0o640"
listen_owner = "4321"
listen_group = "nogroup"
listen_acl_users = ["nobody", "77"]
listen_acl_groups = ["65534", "88"]
listen_allowed_clients = ["127.0.0.1", "::ffff:10.0.0.1", "::1"]
`, LoadOptions{Euid: 1000})
	if p.ListenPerm != 0o640 {
		t.Errorf("ListenPerm %v", p.ListenPerm)
	}
	// A number without a passwd entry: no primary group.
	if p.ListenOwnerUID != 4321 || p.ListenOwnerGID != -1 || p.ListenGroupGID != 65534 {
		t.Errorf("owner %d:%d, group %d", p.ListenOwnerUID, p.ListenOwnerGID, p.ListenGroupGID)
	}
	if !reflect.DeepEqual(p.ListenACLUIDs, []uint32{65534, 77}) || !reflect.DeepEqual(p.ListenACLGIDs, []uint32{65534, 88}) {
		t.Errorf("ACL uids %v, gids %v", p.ListenACLUIDs, p.ListenACLGIDs)
	}
	want := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("::1")}
	if !reflect.DeepEqual(p.AllowedClients, want) {
		t.Errorf("AllowedClients %v", p.AllowedClients)
	}
}

func TestResolveIdentity(t *testing.T) {
	root := LoadOptions{Euid: 0, AllowRoot: true}
	for _, tc := range []struct {
		extra string
		want  *Identity
	}{
		{`user = "nobody"`, &Identity{UID: 65534, GID: 65534, Groups: []uint32{}, Name: "nobody", Home: "/nonexistent"}},
		{"user = \"nobody\"\ngroup = \"0\"\ngroups = [\"nogroup\", \"1234\"]", &Identity{UID: 65534, GID: 0, Groups: []uint32{65534, 1234}, Name: "nobody", Home: "/nonexistent"}},
		{`user = "65534"`, &Identity{UID: 65534, GID: 65534, Groups: []uint32{}, Name: "nobody", Home: "/nonexistent"}},
		// A number without a passwd entry is its own name, home "/", gid 0
		// unless group says otherwise (php-fpm).
		{`user = "4321"`, &Identity{UID: 4321, GID: 0, Groups: []uint32{}, Name: "4321", Home: "/"}},
		{"user = \"4321\"\ngroup = \"4322\"", &Identity{UID: 4321, GID: 4322, Groups: []uint32{}, Name: "4321", Home: "/"}},
		{"", nil},
	} {
		p := loadPool(t, "listen = \"127.0.0.1:9000\"\n"+tc.extra+"\n", root)
		if !reflect.DeepEqual(p.Identity, tc.want) {
			t.Errorf("%q: Identity %+v, want %+v", tc.extra, p.Identity, tc.want)
		}
	}
	// A non-root master resolves nobody's identity: it switches none.
	if p := loadPool(t, "listen = \"127.0.0.1:9000\"\n", LoadOptions{Euid: 1000}); p.Identity != nil {
		t.Errorf("non-root master: Identity %+v", p.Identity)
	}
}

func TestResolveSignal(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		sig      unix.Signal
	}{
		{"", "SIGQUIT", unix.SIGQUIT},
		{"quit", "SIGQUIT", unix.SIGQUIT},
		{"SIGTERM", "SIGTERM", unix.SIGTERM},
		{" sigusr1 ", "SIGUSR1", unix.SIGUSR1},
		{"Winch", "SIGWINCH", unix.SIGWINCH},
	} {
		extra := "listen = \"127.0.0.1:9000\"\n"
		if tc.in != "" {
			extra += "worker_graceful_signal = \"" + tc.in + "\"\n"
		}
		p := loadPool(t, extra, LoadOptions{Euid: 1000})
		if p.WorkerGracefulSignal != tc.name || p.GracefulSignal != tc.sig {
			t.Errorf("%q: %q %v, want %q %v", tc.in, p.WorkerGracefulSignal, p.GracefulSignal, tc.name, tc.sig)
		}
	}
	for in, want := range map[string]unix.Signal{"SIGQUIT": unix.SIGQUIT, "quit": unix.SIGQUIT, "sigterm": unix.SIGTERM, "HUP": unix.SIGHUP} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseSignal("SIGFOO"); err == nil || err.Error() != `unknown signal "SIGFOO"` {
		t.Errorf("ParseSignal(SIGFOO): %v", err)
	}
	for s, want := range map[unix.Signal]string{unix.SIGKILL: "SIGKILL", unix.SIGQUIT: "SIGQUIT", 200: "signal 200"} {
		if got := SignalName(s); got != want {
			t.Errorf("SignalName(%d) = %q, want %q", int(s), got, want)
		}
	}
}

func TestParseTrusted(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1":         "10.0.0.1/32",
		"10.1.2.3/8":       "10.0.0.0/8",
		"::1":              "::1/128",
		"::ffff:192.0.2.1": "192.0.2.1/32",
		"2001:db8::1/32":   "2001:db8::/32",
	} {
		got, err := ParseTrusted(in)
		if err != nil || got != netip.MustParsePrefix(want) {
			t.Errorf("ParseTrusted(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"10.0.0.0/33", "example.com", ""} {
		if _, err := ParseTrusted(in); err == nil {
			t.Errorf("ParseTrusted(%q) accepted", in)
		}
	}
	path := filepath.Join(t.TempDir(), "gofpm.toml")
	body := "[pool.www]\nlisten = \"127.0.0.1:9000\"\ncommand = [\"/bin/sh\"]\npm = \"static\"\npm_max_children = 1\n" +
		"[http]\nlisten = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, LoadOptions{Euid: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	if !reflect.DeepEqual(cfg.HTTP.TrustedPrefixes, want) {
		t.Errorf("TrustedPrefixes %v, want %v", cfg.HTTP.TrustedPrefixes, want)
	}
}

func TestLookupUser(t *testing.T) {
	for _, in := range []string{"nobody", "65534"} {
		u, err := LookupUser(in)
		if err != nil || u.Username != "nobody" || u.Uid != "65534" {
			t.Errorf("LookupUser(%q) = %+v, %v", in, u, err)
		}
	}
	if _, err := LookupUser("no-such-user-here"); err == nil || !strings.Contains(err.Error(), "no-such-user-here") {
		t.Errorf("unknown user: %v", err)
	}
}
