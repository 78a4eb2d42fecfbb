package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFrontSafetyDefaults: without the keys, SERVER_NAME is the listen
// host (the host name for a wildcard), the pages are for loopback only,
// there are no metrics, dotfiles are not served and links are not
// followed out of root; an explicit pages_allow = [] allows nobody.
func TestFrontSafetyDefaults(t *testing.T) {
	hostname, _ := os.Hostname()
	for _, tc := range []struct{ listen, extra, serverName string }{
		{"127.0.0.1:8080", "", "127.0.0.1"},
		{"[::1]:8080", "", "::1"},
		{"0.0.0.0:8080", "", hostname},
		{":8080", "", hostname},
		{"127.0.0.1:8080", "server_name = \"www.example.org\"\npages_allow = []\n", "www.example.org"},
	} {
		dir := t.TempDir()
		f := filepath.Join(dir, "pool.toml")
		os.WriteFile(f, []byte("[pool.www]\nlisten = \"./www.sock\"\ncommand = [\"/bin/true\"]\npm = \"static\"\npm_max_children = 1\n\n[http]\nlisten = \""+tc.listen+"\"\n"+tc.extra), 0o644)
		cfg, err := Load(f, LoadOptions{Euid: 1000})
		if err != nil {
			t.Fatalf("%s: %v", tc.listen, err)
		}
		h := cfg.HTTP
		if h.ServerName != tc.serverName {
			t.Errorf("listen %s: server_name %q, want %q", tc.listen, h.ServerName, tc.serverName)
		}
		wantAllow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		if tc.extra != "" {
			wantAllow = nil
		}
		if !slices.Equal(h.PagesAllowPrefixes, wantAllow) {
			t.Errorf("listen %s: pages_allow %v, want %v", tc.listen, h.PagesAllowPrefixes, wantAllow)
		}
		if h.MetricsPath != "" || h.ServeDotfiles || h.FollowSymlinksOutsideRoot {
			t.Errorf("metrics_path %q, serve_dotfiles %v, follow_symlinks_outside_root %v: want off", h.MetricsPath, h.ServeDotfiles, h.FollowSymlinksOutsideRoot)
		}
	}
}

// TestRunsScripts: which pools run the file a request names, and with
// which extensions.
func TestRunsScripts(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Pool
		php  bool
		exts []string // nil: not a script pool, or any file
		runs bool
	}{
		{"php-cgi", Pool{Command: []string{"/usr/bin/php-cgi"}}, true, []string{".php"}, true},
		{"php-cgi8.2", Pool{Command: []string{"/usr/bin/php-cgi8.2", "-c", "/etc/php.ini"}}, true, []string{".php"}, true},
		{"php82-cgi", Pool{Command: []string{"php82-cgi"}}, true, []string{".php"}, true},
		{"php with extensions", Pool{Command: []string{"php-cgi"}, SecurityLimitExtensions: []string{".php", ".phtml"}}, true, []string{".php", ".phtml"}, true},
		{"cgi bridge", Pool{Worker: "cgi"}, false, nil, true},
		{"cgi bridge with extensions", Pool{Worker: "cgi", SecurityLimitExtensions: []string{".sh"}}, false, []string{".sh"}, true},
		{"fcgiwrap", Pool{Command: []string{"/usr/sbin/fcgiwrap"}, SecurityLimitExtensions: []string{".cgi"}}, false, []string{".cgi"}, true},
		{"go worker", Pool{Command: []string{"./bin/hello"}}, false, nil, false},
		{"graphp (not php)", Pool{Command: []string{"/opt/graphp"}}, false, nil, false},
	} {
		if got := tc.p.IsPHP(); got != tc.php {
			t.Errorf("%s: IsPHP %v", tc.name, got)
		}
		if got := tc.p.RunsScripts(); got != tc.runs {
			t.Errorf("%s: RunsScripts %v", tc.name, got)
		}
		if got := tc.p.ScriptExtensions(); !slices.Equal(got, tc.exts) {
			t.Errorf("%s: ScriptExtensions %v, want %v", tc.name, got, tc.exts)
		}
	}
}
