package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPHPFPMFlags: the command lines of php-fpm's Debian unit and
// checkconf script, and a container's CMD, work on gofpm: -t is check,
// -y/--fpm-config is -c, -F/--nodaemonize is accepted, -D is refused.
func TestPHPFPMFlags(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "pool.toml")
	os.WriteFile(good, []byte("[pool.www]\nlisten = \"./www.sock\"\ncommand = [\"/bin/cat\"]\npm = \"static\"\npm_max_children = 1\n"), 0o644)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[pool.www]\nlisten = \"./www.sock\"\ncommand = [\"/bin/cat\"]\npm = \"static\"\npm.max_children = 1\n"), 0o644)
	ok := "configuration file " + good + " test is successful\n"
	teach := bad + `:5:1: key "pm.max_children": write pm_max_children (php-fpm's dotted names become underscores)` + "\n"

	tests := []struct {
		args           []string
		code           int
		stdout, stderr string // stdout: suffix; stderr: exact
	}{
		{[]string{"-t", "-R", "-y", good}, 0, ok, ""},
		{[]string{"--fpm-config", good, "--test", "-R"}, 0, ok, ""},
		{[]string{"--test", "-R", "--fpm-config", bad}, 1, "", teach},
		{[]string{"check", "-R", "-c", bad}, 1, "", teach},
		// Debian's unit: php-fpm8.2 --nodaemonize --fpm-config FILE. The bad
		// config shows that the flags were read: exit 78 at the config.
		{[]string{"--nodaemonize", "--fpm-config", bad}, 78, "", teach},
		{[]string{"-F", "-R", "-y", bad}, 78, "", teach},
		{[]string{"run", "-F", "-y", bad}, 78, "", teach},
		{[]string{"-D", "-y", good}, 64, "", "gofpm: " + errDaemonize + "\n"},
		{[]string{"--daemonize"}, 64, "", "gofpm: " + errDaemonize + "\n"},
	}
	for _, tt := range tests {
		stdout, stderr, code := gofpm(t, tt.args...)
		if code != tt.code || !strings.HasSuffix(stdout, tt.stdout) || stderr != tt.stderr {
			t.Errorf("gofpm %q: exit %d, stdout %q, stderr %q; want exit %d, stdout ending %q, stderr %q",
				tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
	// php-fpm -t with the config in the environment (a container's CMD).
	t.Setenv("GOFPM_CONFIG", good)
	if stdout, stderr, code := gofpm(t, "-t", "-R"); code != 0 || !strings.HasSuffix(stdout, ok) {
		t.Errorf("GOFPM_CONFIG=... gofpm -t: exit %d, %q %q", code, stdout, stderr)
	}
}

// TestINIGivenToRunOrCheck: a php-fpm ini file given to run or check says
// how to translate it, in one line.
func TestINIGivenToRunOrCheck(t *testing.T) {
	ini := filepath.Join(t.TempDir(), "www.conf")
	os.WriteFile(ini, []byte("; Debian's pool\n[www]\nuser = www-data\nlisten = /run/php/php8.2-fpm.sock\npm = dynamic\npm.max_children = 5\n"), 0o644)
	want := ini + ":1:1: this is a php-fpm ini file: gofpm import-php-fpm " + ini + "\n"
	for _, args := range [][]string{{"check", "-c", ini}, {"-c", ini}, {"--nodaemonize", "--fpm-config", ini}} {
		_, stderr, code := gofpm(t, args...)
		if stderr != want || (code != 1 && code != 78) {
			t.Errorf("gofpm %q: exit %d, stderr %q; want %q", args, code, stderr, want)
		}
	}
}

// TestBadTopLevelFlag: the hint names "gofpm --help" once (it said "see
// gofpm gofpm --help").
func TestBadTopLevelFlag(t *testing.T) {
	_, stderr, code := gofpm(t, "--bogus")
	if want := "gofpm: flag provided but not defined: -bogus (see gofpm --help)\n"; code != 64 || stderr != want {
		t.Errorf("gofpm --bogus: exit %d, stderr %q; want 64, %q", code, stderr, want)
	}
	_, stderr, _ = gofpm(t, "check", "--bogus")
	if want := "gofpm: flag provided but not defined: -bogus (see gofpm check --help)\n"; stderr != want {
		t.Errorf("gofpm check --bogus: stderr %q; want %q", stderr, want)
	}
}

// TestImportPoolDir: import-php-fpm --pool-dir writes one file per pool
// and a main file that includes them; check reads them all.
func TestImportPoolDir(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "php-fpm.conf")
	os.WriteFile(ini, []byte("[global]\npid = run/fpm.pid\n[www]\nlisten = ./www.sock\npm = static\npm.max_children = 2\n[api]\nlisten = ./api.sock\npm = static\npm.max_children = 1\n"), 0o644)
	out := filepath.Join(dir, "gofpm", "pool.toml")
	os.Mkdir(filepath.Dir(out), 0o755)
	// A stand-in named php-cgi: static pools are imported as worker = "php",
	// which checks that command is php-cgi.
	phpCGI := filepath.Join(dir, "php-cgi")
	os.WriteFile(phpCGI, []byte("#!/bin/sh\nexec cat\n"), 0o755)
	if _, stderr, code := gofpm(t, "import-php-fpm", "--php-cgi", phpCGI, "-o", out, "--pool-dir", filepath.Join(dir, "gofpm", "pool.d"), ini); code != 0 {
		t.Fatalf("import-php-fpm: exit %d: %s", code, stderr)
	}
	main, _ := os.ReadFile(out)
	if !strings.Contains(string(main), "include = [\"pool.d/*.toml\"]") {
		t.Errorf("main file has no include of pool.d:\n%s", main)
	}
	for _, name := range []string{"www", "api"} {
		if b, err := os.ReadFile(filepath.Join(dir, "gofpm", "pool.d", name+".toml")); err != nil || !strings.Contains(string(b), "[pool."+name+"]") {
			t.Errorf("pool.d/%s.toml: %v %q", name, err, b)
		}
	}
	stdout, stderr, code := gofpm(t, "check", "-R", "-c", out)
	if code != 0 || !strings.Contains(stdout, "pool www: static, 2 children") || !strings.Contains(stdout, "pool api: static, 1 child") {
		t.Errorf("check: exit %d\n%s%s", code, stdout, stderr)
	}
}
