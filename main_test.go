package main

// Tests of the command line itself, on the real binary: help with
// examples, usage errors, shell completion and the man page. The lists of
// commands and flags come from newApp, not from a copy.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// gofpmBin is the binary built once by TestMain; binDir holds it.
var gofpmBin, binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gofpm-main")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	binDir, gofpmBin = dir, filepath.Join(dir, "gofpm")
	cmd := exec.Command("go", "build", "-o", gofpmBin, ".")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gofpm:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gofpm runs the binary and returns stdout, stderr and the exit code.
func gofpm(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(gofpmBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gofpm %q: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func visibleCommands(app *cli.App) []*cli.Command {
	var out []*cli.Command
	for _, c := range app.Commands {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

func flagNames(flags []cli.Flag) []string {
	var out []string
	for _, f := range flags {
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		out = append(out, f.Names()...)
	}
	return out
}

func TestHelpListsCommands(t *testing.T) {
	out, _, code := gofpm(t, "--help")
	if code != 0 {
		t.Fatalf("gofpm --help: exit %d", code)
	}
	for _, c := range visibleCommands(newApp()) {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(c.Name) + `\s+\S`).MatchString(out) {
			t.Errorf("gofpm --help does not list %q:\n%s", c.Name, out)
		}
	}
	if !strings.Contains(out, "Examples:\n") {
		t.Errorf("gofpm --help shows no examples:\n%s", out)
	}
}

// TestCommandHelpExamples: every command's --help shows at least two
// example invocations under "Examples:".
func TestCommandHelpExamples(t *testing.T) {
	for _, c := range visibleCommands(newApp()) {
		out, _, code := gofpm(t, c.Name, "--help")
		if code != 0 {
			t.Errorf("gofpm %s --help: exit %d", c.Name, code)
			continue
		}
		_, ex, ok := strings.Cut(out, "Examples:\n")
		n := 0
		for _, l := range strings.Split(ex, "\n") {
			if strings.Contains(l, "gofpm") && strings.HasPrefix(l, "     ") {
				n++
			}
		}
		if !ok || n < 2 {
			t.Errorf("gofpm %s --help shows %d examples, want 2 or more:\n%s", c.Name, n, out)
		}
		for _, f := range flagNames(c.Flags) {
			if !strings.Contains(out, "-"+f) {
				t.Errorf("gofpm %s --help does not show flag %q", c.Name, f)
			}
		}
	}
}

// TestHelpExamplesParse: every example in the help names a real command
// and real flags, as docs-check requires of the docs.
func TestHelpExamplesParse(t *testing.T) {
	app := newApp()
	for name, h := range commandHelp {
		if name != "" && app.Command(name) == nil {
			t.Errorf("commandHelp has %q, which is no command", name)
		}
		if len(h.examples) < 2 {
			t.Errorf("command %q has %d examples, want 2 or more", name, len(h.examples))
		}
		for _, ex := range h.examples {
			calls, err := shellCommands(ex)
			if err != nil {
				t.Errorf("%s: example %q: %v", name, ex, err)
			}
			found := false
			for _, argv := range calls {
				if isGofpm(argv) {
					found = true
					if err := checkArgv(app, argv); err != nil {
						t.Errorf("%s: example %q: %v", name, ex, err)
					}
				}
			}
			if !found {
				t.Errorf("%s: example %q runs no gofpm", name, ex)
			}
		}
	}
	for _, c := range app.Commands {
		if _, ok := commandHelp[c.Name]; !ok && c.Name != "worker" {
			t.Errorf("command %q has no entry in commandHelp", c.Name)
		}
	}
}

// TestUsageErrors: a bad flag, a missing -s, an unknown command or shell:
// exit 64 with one line on stderr.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"check", "--bogus"},
		{"--bogus"},
		{"status"},
		{"ping", "--path", "/ping"},
		{"bogus"},
		{"completion", "tcsh"},
		{"completion"},
		{"run"},
		{"check"},
		{"reload"},
		{"stop", "--graceful"},
	} {
		stdout, stderr, code := gofpm(t, args...)
		if code != 64 {
			t.Errorf("gofpm %q: exit %d, want 64; stderr %q", args, code, stderr)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "gofpm: ") || stdout != "" {
			t.Errorf("gofpm %q: want one line \"gofpm: ...\" on stderr and nothing on stdout, got %q / %q", args, stderr, stdout)
		}
	}
}

// TestManPage: gofpm man is roff with every visible command and flag.
func TestManPage(t *testing.T) {
	out, stderr, code := gofpm(t, "man")
	if code != 0 {
		t.Fatalf("gofpm man: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(out, ".TH gofpm 1") && !strings.HasPrefix(out, ".nh\n.TH gofpm 1") {
		t.Fatalf("man page does not start with .TH:\n%.200s", out)
	}
	page := strings.ReplaceAll(out, `\-`, "-")
	app := newApp()
	for _, f := range flagNames(app.Flags) {
		if !strings.Contains(page, dashes(f)) {
			t.Errorf("man page lacks global flag %s", dashes(f))
		}
	}
	for _, c := range visibleCommands(app) {
		if !strings.Contains(page, "\n.SH "+c.Name+"\n") {
			t.Errorf("man page lacks a section for command %q", c.Name)
		}
		for _, f := range flagNames(c.Flags) {
			if !strings.Contains(page, dashes(f)) {
				t.Errorf("man page lacks flag %s of %q", dashes(f), c.Name)
			}
		}
	}
	if strings.Contains(page, ".SH worker") || strings.Contains(page, ".SH man") {
		t.Errorf("man page shows hidden commands")
	}
	// groff reads it without a warning, where groff is installed.
	if groff, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = strings.NewReader(out)
		if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
			t.Errorf("groff -man: %v %s", err, b)
		}
	}
}

func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func TestGenerateBashCompletion(t *testing.T) {
	out, _, code := gofpm(t, "--generate-bash-completion")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	words := strings.Fields(out)
	for _, c := range visibleCommands(newApp()) {
		if !contains(words, c.Name) {
			t.Errorf("--generate-bash-completion does not list %q: %q", c.Name, words)
		}
	}
	if contains(words, "worker") || contains(words, "man") {
		t.Errorf("--generate-bash-completion lists hidden commands: %q", words)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCompletionBash: the script is valid bash, and completes commands,
// flags and the shells of gofpm completion through the real binary.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, _, code := gofpm(t, "completion", "bash")
	if code != 0 || script == "" {
		t.Fatalf("gofpm completion bash: exit %d, %d bytes", code, len(script))
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "gofpm.bash")
	os.WriteFile(path, []byte(script), 0o644)
	if b, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v %s", err, b)
	}
	for _, tc := range []struct {
		words []string // the last is the word being completed
		want  string
	}{
		{[]string{"gofpm", "ch"}, "check"},
		{[]string{"gofpm", "im"}, "import-php-fpm"},
		{[]string{"gofpm", "check", "--con"}, "--config"},
		{[]string{"gofpm", "status", "--fo"}, "--format"},
		{[]string{"gofpm", "completion", "f"}, "fish"},
	} {
		prog := fmt.Sprintf(`source %q
COMP_WORDS=(%s)
COMP_CWORD=%d
_gofpm_complete
printf '%%s\n' "${COMPREPLY[@]}"`, path, strings.Join(tc.words, " "), len(tc.words)-1)
		cmd := exec.Command("bash", "-c", prog)
		cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"))
		b, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(b)) != tc.want {
			t.Errorf("completing %q: %v %q, want %q", tc.words, err, b, tc.want)
		}
	}
}

func TestCompletionZshFish(t *testing.T) {
	fish, _, code := gofpm(t, "completion", "fish")
	if code != 0 || !strings.Contains(fish, "complete -c gofpm") {
		t.Errorf("gofpm completion fish: exit %d:\n%s", code, fish)
	}
	for _, c := range visibleCommands(newApp()) {
		if !strings.Contains(fish, "-a '"+c.Name+"'") {
			t.Errorf("fish completion lacks command %q", c.Name)
		}
	}
	zsh, _, code := gofpm(t, "completion", "zsh")
	if code != 0 || !strings.HasPrefix(zsh, "#compdef gofpm\n") {
		t.Errorf("gofpm completion zsh: exit %d:\n%s", code, zsh)
	}
	for shell, script := range map[string]string{"zsh": zsh, "fish": fish} {
		if _, err := exec.LookPath(shell); err != nil {
			continue
		}
		cmd := exec.Command(shell, "-n")
		cmd.Stdin = strings.NewReader(script)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v %s", shell, err, b)
		}
	}
}
