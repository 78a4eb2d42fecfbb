package main

// docs-check: every example in README.md and docs/*.md is checked here
// (make docs-check runs these tests). Each fenced code block, by its
// language:
//
//   - toml: a complete configuration, passed through the real gofpm check;
//     or, marked <!-- fragment --> on the line before the fence, a part of
//     one: parsed as TOML, completed into a minimal pool (listen, command)
//     and passed through gofpm check. Marked <!-- other-machine -->, a
//     configuration may fail check only for what this machine lacks (a
//     user, a group, a folder, a program).
//   - ini (php-fpm): translated by the real gofpm import-php-fpm, and the
//     result passed through gofpm check (a fragment: translated only).
//   - nginx: wrapped in the smallest nginx.conf that holds it (location,
//     server, http or main context, whichever nginx accepts) and run
//     through nginx -t; a fragment has only its braces checked.
//   - sh, bash, console, shell: every gofpm invocation must name a real
//     command and real flags of that command (from newApp), flags before
//     arguments; every make target must exist in the Makefile. A block
//     marked <!-- run --> is executed with bash -e in a temp dir with gofpm
//     on PATH.
//   - go: a program (package ...) must build; a fragment must parse as
//     statements.
//   - anything else (yaml, Dockerfile, json, text, none): every gofpm argv
//     written as a JSON array (["gofpm", "ping", ...]) or as a Dockerfile
//     RUN/CMD/ENTRYPOINT shell line is checked like a shell invocation.
//
// Programs named in a configuration's command that this machine lacks
// (/usr/local/bin/myapp) are replaced by a stub executable for the check:
// gofpm check tests that the program exists, and the docs' programs are
// the reader's. Nothing else in a block is rewritten.
//
// Besides the blocks: relative links must name existing files, and every
// test named in the docs (TestXxx) must exist.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
)

// docBlock is one fenced code block of a Markdown file.
type docBlock struct {
	file  string
	line  int // line of the opening fence (1-based)
	lang  string
	marks map[string]bool // words of the HTML comment on the line before the fence
	text  string
}

func (b docBlock) String() string { return fmt.Sprintf("%s:%d (```%s)", b.file, b.line, b.lang) }

// docFiles is README.md and every Markdown file under docs/.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	more, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(more)
	return append(files, more...)
}

var (
	fenceRe  = regexp.MustCompile("^(\\s*)(```+|~~~+)\\s*([A-Za-z0-9_+-]*)")
	markRe   = regexp.MustCompile(`^\s*<!--\s*(.*?)\s*-->\s*$`)
	knownMrk = map[string]bool{"fragment": true, "run": true, "other-machine": true}
)

// parseBlocks returns the fenced code blocks of a Markdown text.
func parseBlocks(file, text string) ([]docBlock, error) {
	var blocks []docBlock
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceRe.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, fence := m[1], m[2]
		b := docBlock{file: file, line: i + 1, lang: strings.ToLower(m[3]), marks: map[string]bool{}}
		for j := i - 1; j >= 0; j-- {
			if strings.TrimSpace(lines[j]) == "" {
				continue
			}
			if mm := markRe.FindStringSubmatch(lines[j]); mm != nil {
				for _, w := range strings.Fields(mm[1]) {
					b.marks[w] = true
				}
			}
			break
		}
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			l := lines[i]
			if tl := strings.TrimSpace(l); len(tl) >= len(fence) && strings.Trim(tl, fence[:1]) == "" {
				closed = true
				break
			}
			body = append(body, strings.TrimPrefix(l, indent))
		}
		if !closed {
			return nil, fmt.Errorf("%s:%d: code block never closed", file, b.line)
		}
		b.text = strings.Join(body, "\n") + "\n"
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// TestDocsExamples is make docs-check: every code block of the docs.
func TestDocsExamples(t *testing.T) {
	app := newApp()
	for _, file := range docFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := parseBlocks(file, string(data))
		if err != nil {
			t.Error(err)
			continue
		}
		for _, b := range blocks {
			b := b
			t.Run(fmt.Sprintf("%s:%d", file, b.line), func(t *testing.T) {
				for m := range b.marks {
					if !knownMrk[m] && (strings.Contains(m, "fragment") || strings.Contains(m, "run")) {
						t.Errorf("%s: unknown mark %q (fragment, run)", b, m)
					}
				}
				if b.marks["run"] && !isShell(b.lang) {
					t.Errorf("%s: <!-- run --> only on sh/console blocks", b)
				}
				switch {
				case b.lang == "toml":
					checkTOMLBlock(t, b)
				case b.lang == "ini":
					checkINIBlock(t, b)
				case b.lang == "nginx":
					checkNginxBlock(t, b)
				case isShell(b.lang):
					checkShellBlock(t, app, b)
				case b.lang == "go":
					checkGoBlock(t, b)
				default:
					checkOtherBlock(t, app, b)
				}
			})
		}
	}
}

func isShell(lang string) bool {
	switch lang {
	case "sh", "bash", "shell", "console", "zsh":
		return true
	}
	return false
}

// --- TOML -------------------------------------------------------------

// runCheck runs gofpm check on a configuration file in dir, with stubs
// for the programs this machine lacks; it returns the output and whether
// check passed. A block that sets user or group needs a root master: as
// another user the test is skipped.
func runCheck(t *testing.T, b docBlock, dir, text string) (string, bool) {
	t.Helper()
	text, env := stubPrograms(t, dir, text)
	path := filepath.Join(dir, "pool.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "-c", path}
	if os.Geteuid() == 0 {
		args = append(args, "-R")
	} else if regexp.MustCompile(`(?m)^\s*(user|group)\s*=`).MatchString(text) {
		t.Skipf("%s sets user or group: gofpm check needs a root master for it", b)
	}
	cmd := exec.Command(gofpmBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// stubPrograms gives every program named as command[0] that this machine
// lacks a stub executable in dir, rewriting the name in text when it is
// absolute; it returns the text and the environment (PATH) for check.
func stubPrograms(t *testing.T, dir, text string) (string, []string) {
	t.Helper()
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		return text, nil // check will say what is wrong
	}
	var env []string
	stubBin := filepath.Join(dir, "stub-bin")
	pools, _ := raw["pool"].(map[string]any)
	for _, p := range pools {
		pm, _ := p.(map[string]any)
		cmd, _ := pm["command"].([]any)
		if len(cmd) == 0 {
			continue
		}
		prog, _ := cmd[0].(string)
		switch {
		case prog == "":
		case filepath.IsAbs(prog):
			if _, err := exec.LookPath(prog); err == nil {
				continue
			}
			stub := filepath.Join(dir, "stub", prog)
			writeStub(t, stub)
			text = strings.Replace(text, strconv.Quote(prog), strconv.Quote(stub), 1)
			text = strings.Replace(text, "'"+prog+"'", "'"+stub+"'", 1)
		case strings.Contains(prog, "/"):
			writeStub(t, filepath.Join(dir, prog))
		default:
			if _, err := exec.LookPath(prog); err == nil {
				continue
			}
			writeStub(t, filepath.Join(stubBin, prog))
			env = []string{"PATH=" + stubBin + ":" + os.Getenv("PATH")}
		}
	}
	return text, env
}

func writeStub(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// docPositions maps check's "FILE:LINE:COL:" to the line in the doc.
func docPositions(out, path string, b docBlock) string {
	re := regexp.MustCompile(regexp.QuoteMeta(path) + `:(\d+):`)
	return re.ReplaceAllStringFunc(out, func(s string) string {
		n, _ := strconv.Atoi(re.FindStringSubmatch(s)[1])
		return fmt.Sprintf("%s:%d:", b.file, b.line+n)
	})
}

func checkTOMLBlock(t *testing.T, b docBlock) {
	dir := t.TempDir()
	if !b.marks["fragment"] {
		out, ok := runCheck(t, b, dir, b.text)
		if !ok && b.marks["other-machine"] && onlyMachineErrors(out) {
			return // a config for a machine with its users and folders
		}
		if !ok {
			t.Errorf("%s: gofpm check fails on this configuration (if it is only a part of one, mark it <!-- fragment -->):\n%s",
				b, docPositions(out, filepath.Join(dir, "pool.toml"), b))
		}
		return
	}
	var raw map[string]any
	if _, err := toml.Decode(b.text, &raw); err != nil {
		t.Fatalf("%s: not TOML: %v", b, err)
	}
	completeFragment(raw, dir)
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(raw); err != nil {
		t.Fatal(err)
	}
	if out, ok := runCheck(t, b, dir, buf.String()); !ok {
		t.Errorf("%s: this fragment, completed into a pool, fails gofpm check:\n%s\ncompleted configuration:\n%s", b, out, buf.String())
	}
}

// onlyMachineErrors reports whether every error check printed is about
// what the machine lacks (a user, a group, a folder, a program), which a
// block marked <!-- other-machine --> may name.
func onlyMachineErrors(out string) bool {
	machine := regexp.MustCompile(`unknown (user|group) |is not a directory|does not exist|not found`)
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, ".toml:") { // FILE:LINE:COL: lines are the errors
			continue
		}
		if !machine.MatchString(l) {
			return false
		}
		n++
	}
	return n > 0
}

// completeFragment adds what a pool needs to be checked: a pool if there
// is none (or one named by [http]), and listen, command, pm and
// pm_max_children where missing.
func completeFragment(raw map[string]any, dir string) {
	pools, _ := raw["pool"].(map[string]any)
	if pools == nil {
		pools = map[string]any{}
		raw["pool"] = pools
	}
	if h, ok := raw["http"].(map[string]any); ok {
		names := []any{h["default_pool"]}
		routes, _ := h["route"].([]map[string]any)
		for _, r := range routes {
			names = append(names, r["pool"])
		}
		for _, n := range names {
			if s, ok := n.(string); ok && s != "" && pools[s] == nil {
				pools[s] = map[string]any{}
			}
		}
	}
	if len(pools) == 0 {
		pools["docs"] = map[string]any{}
	}
	for name, p := range pools {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if _, ok := pm["listen"]; !ok {
			pm["listen"] = filepath.Join(dir, name+".sock")
		}
		if _, ok := pm["command"]; !ok && pm["worker"] != "cgi" {
			pm["command"] = []any{"/bin/true"}
		}
		if _, ok := pm["pm"]; !ok {
			pm["pm"] = "static"
		}
		if _, ok := pm["pm_max_children"]; !ok {
			pm["pm_max_children"] = 1
		}
	}
}

// --- php-fpm ini --------------------------------------------------------

func checkINIBlock(t *testing.T, b docBlock) {
	dir := t.TempDir()
	text := b.text
	if b.marks["fragment"] && !regexp.MustCompile(`(?m)^\s*\[`).MatchString(text) {
		text = "[www]\n" + text
	}
	in := filepath.Join(dir, "php-fpm.conf")
	os.WriteFile(in, []byte(text), 0o644)
	out := filepath.Join(dir, "imported.toml")
	if o, err := exec.Command(gofpmBin, "import-php-fpm", "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("%s: gofpm import-php-fpm fails on it: %v\n%s", b, err, o)
	}
	if b.marks["fragment"] {
		return
	}
	imported, _ := os.ReadFile(out)
	if o, ok := runCheck(t, b, dir, string(imported)); !ok {
		t.Errorf("%s: its translation by gofpm import-php-fpm fails gofpm check:\n%s\n%s", b, o, imported)
	}
}

// --- nginx ---------------------------------------------------------------

const nginxPath = "/usr/sbin/nginx"

func checkNginxBlock(t *testing.T, b docBlock) {
	if err := nginxBraces(b.text); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if b.marks["fragment"] {
		return
	}
	if _, err := os.Stat(nginxPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx is not installed (make deps installs it)")
		}
		t.Skip("nginx is not installed; run make deps")
	}
	if err := nginxTest(t.TempDir(), b.text); err != nil {
		t.Errorf("%s: nginx -t rejects it in every context (mark it <!-- fragment --> if it cannot stand alone):\n%v", b, err)
	}
}

// nginxTest runs nginx -t on text wrapped in the smallest nginx.conf that
// holds it: inside a location, a server, http, or as the main file.
func nginxTest(dir, text string) error {
	// Relative includes (fastcgi_params, snippets/...) resolve against the
	// folder of the tested nginx.conf: give it Debian's files.
	if ents, err := os.ReadDir("/etc/nginx"); err == nil {
		for _, e := range ents {
			if e.Name() != "nginx.conf" {
				os.Symlink(filepath.Join("/etc/nginx", e.Name()), filepath.Join(dir, e.Name()))
			}
		}
	}
	temps := ""
	for _, p := range []string{"client_body", "fastcgi", "proxy", "uwsgi", "scgi"} {
		temps += fmt.Sprintf("    %s_temp_path %s;\n", p, filepath.Join(dir, p))
	}
	head := fmt.Sprintf("pid %s;\nerror_log %s;\n", filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))
	httpOpen := "events {}\nhttp {\n    access_log off;\n" + temps
	server := "server {\n    listen unix:" + filepath.Join(dir, "http.sock") + ";\n"
	events := "events {}\n"
	if regexp.MustCompile(`(?m)^\s*events\b`).MatchString(text) {
		events = ""
	}
	contexts := []struct{ name, conf string }{
		{"location", head + httpOpen + server + "location / {\n" + text + "}\n}\n}\n"},
		{"server", head + httpOpen + server + text + "}\n}\n"},
		{"http", head + httpOpen + text + "}\n"},
		{"main", text + events},
	}
	var errs []string
	for _, c := range contexts {
		conf := filepath.Join(dir, "nginx.conf")
		os.WriteFile(conf, []byte(c.conf), 0o644)
		out, err := exec.Command(nginxPath, "-t", "-q", "-p", dir+"/", "-c", conf).CombinedOutput()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Sprintf("in a %s context: %s", c.name, strings.TrimSpace(string(out))))
	}
	return errors.New(strings.Join(errs, "\n"))
}

// nginxBraces checks that braces balance outside quotes and comments.
func nginxBraces(text string) error {
	depth := 0
	for n, l := range strings.Split(text, "\n") {
		var q byte
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case q != 0:
				if c == '\\' {
					i++
				} else if c == q {
					q = 0
				}
			case c == '#':
				i = len(l)
			case c == '"' || c == '\'':
				q = c
			case c == '{':
				depth++
			case c == '}':
				depth--
				if depth < 0 {
					return fmt.Errorf("line %d: unbalanced }", n+1)
				}
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("%d unclosed {", depth)
	}
	return nil
}

// --- shell ---------------------------------------------------------------

func checkShellBlock(t *testing.T, app *cli.App, b docBlock) {
	for _, c := range shellLines(b.text, b.lang == "console") {
		calls, err := shellCommands(c.text)
		if err != nil {
			t.Errorf("%s:%d: %v", b.file, b.line+c.n, err)
			continue
		}
		for _, argv := range calls {
			if err := checkCall(app, argv); err != nil {
				t.Errorf("%s:%d: %s: %v", b.file, b.line+c.n, strings.Join(argv, " "), err)
			}
		}
	}
	if b.marks["run"] {
		runShellBlock(t, b)
	}
}

// checkCall checks one command of a shell line: gofpm against the app,
// make against the Makefile; others are not ours.
func checkCall(app *cli.App, argv []string) error {
	// gofpm run inside a container or a pod: docker exec CTR gofpm ...,
	// kubectl exec POD -- gofpm ...
	switch argv[0] {
	case "docker", "podman", "nerdctl", "kubectl":
		// After "--" the command is plain. Otherwise a word "gofpm" may
		// also be a container's name (docker exec gofpm gofpm status):
		// the line is right when one of the candidates checks.
		var last error
		for i := 1; i < len(argv); i++ {
			if argv[i-1] == "--" {
				if isGofpm(argv[i:]) {
					return checkArgv(app, argv[i:])
				}
				return nil
			}
			// A word after a flag is the flag's value (--name gofpm).
			if (argv[i] == "gofpm" || isGofpm(argv[i:])) && !strings.HasPrefix(argv[i-1], "-") {
				if last = checkArgv(app, argv[i:]); last == nil {
					return nil
				}
			}
		}
		return last
	}
	switch {
	case isGofpm(argv):
		return checkArgv(app, argv)
	case argv[0] == "make":
		targets, err := makeTargets()
		if err != nil {
			return err
		}
		for _, a := range argv[1:] {
			if strings.HasPrefix(a, "-") || strings.Contains(a, "=") {
				continue
			}
			if !targets[a] {
				return fmt.Errorf("the Makefile has no target %q", a)
			}
		}
	}
	return nil
}

func makeTargets() (map[string]bool, error) {
	data, err := os.ReadFile("Makefile")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:([^=]|$)`).FindAllStringSubmatch(string(data), -1) {
		for _, n := range strings.Fields(m[1]) {
			out[n] = true
		}
	}
	return out, nil
}

type shellLine struct {
	n    int // line within the block, 1-based
	text string
}

// shellLines joins continued lines; in a console block only the lines
// after a "$ " prompt are commands.
func shellLines(text string, console bool) []shellLine {
	var out []shellLine
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l, n := lines[i], i+1
		if console {
			if !strings.HasPrefix(l, "$ ") {
				continue
			}
			l = l[2:]
		}
		for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
			i++
			l = l[:len(l)-1] + " " + strings.TrimPrefix(lines[i], "> ")
		}
		out = append(out, shellLine{n, l})
	}
	return out
}

// shellCommands splits a shell line into the argv of each simple command:
// quotes and escapes are honoured, comments, redirections and variable
// assignments dropped; ; && || | & ( ) $( <( ` start a new command.
func shellCommands(line string) ([][]string, error) {
	var (
		cmds [][]string
		cur  []string
		word strings.Builder
		in   bool // a word is being built
	)
	endWord := func() {
		if in {
			cur = append(cur, word.String())
			word.Reset()
			in = false
		}
	}
	endCmd := func() {
		endWord()
		if len(cur) > 0 {
			cmds = append(cmds, cur)
		}
		cur = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			in = true
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unclosed ' in %q", line)
			}
			word.WriteString(line[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				word.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unclosed \" in %q", line)
			}
			in = true
		case c == '#' && !in:
			i = len(line)
		case c == ' ' || c == '\t':
			endWord()
		case c == ';' || c == '|' || c == '&' || c == '(' || c == ')' || c == '`':
			if c == '(' && in && (word.String() == "$" || word.String() == "<") {
				word.Reset()
				in = false
			}
			endCmd()
		case c == '<' && i+1 < len(line) && line[i+1] == '(':
			endCmd()
		case c == '>' || c == '<':
			// A redirection: drop it and its target.
			if in {
				if _, err := strconv.Atoi(word.String()); err == nil {
					word.Reset()
					in = false
				}
			}
			endWord()
			for i+1 < len(line) && (line[i+1] == '>' || line[i+1] == '&') {
				i++
			}
			for i+1 < len(line) && line[i+1] == ' ' {
				i++
			}
			j := i + 1
			for j < len(line) && !strings.ContainsRune(" \t;|&)", rune(line[j])) {
				j++
			}
			i = j - 1
		default:
			word.WriteByte(c)
			in = true
		}
	}
	endCmd()
	// Drop variable assignments and wrappers before the program.
	assign := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	var out [][]string
	for _, argv := range cmds {
		for len(argv) > 0 && (assign.MatchString(argv[0]) || argv[0] == "sudo" || argv[0] == "exec" || argv[0] == "env" || argv[0] == "time" || argv[0] == "nohup" || argv[0] == "!" || argv[0] == "then" || argv[0] == "do" || argv[0] == "{") {
			argv = argv[1:]
		}
		if len(argv) > 0 {
			out = append(out, argv)
		}
	}
	return out, nil
}

func isGofpm(argv []string) bool {
	return len(argv) > 0 && filepath.Base(argv[0]) == "gofpm"
}

// checkArgv checks a gofpm invocation against the app: the command path
// exists, every flag is one of that command's (or the root's before the
// command), a flag that takes a value has one, no flag follows an
// argument (urfave/cli stops at the first one), and only commands that
// take arguments get them.
func checkArgv(app *cli.App, argv []string) error {
	var cmd *cli.Command
	flags := app.Flags
	subs := app.Commands
	where := "gofpm"
	builtin := map[string]bool{"help": true, "h": true, "version": true, "v": true, "generate-bash-completion": true}
	var args []string
	for i := 1; i < len(argv); i++ {
		tok := argv[i]
		if tok == "--" {
			args = append(args, argv[i+1:]...)
			break
		}
		if strings.HasPrefix(tok, "-") && len(tok) > 1 {
			if len(args) > 0 {
				return fmt.Errorf("flag %s after the argument %q is not read as a flag: put flags first", tok, args[0])
			}
			name, _, hasValue := strings.Cut(strings.TrimLeft(tok, "-"), "=")
			f := findFlag(flags, name)
			if f == nil {
				if builtin[name] && (name != "version" && name != "v" || cmd == nil) {
					continue
				}
				return fmt.Errorf("%s has no flag %s", where, tok)
			}
			if takesValue(f) && !hasValue {
				if i+1 >= len(argv) {
					return fmt.Errorf("flag %s of %s needs a value", tok, where)
				}
				i++
			}
			continue
		}
		if len(args) == 0 && len(subs) > 0 {
			var next *cli.Command
			for _, s := range subs {
				if s.HasName(tok) {
					next = s
				}
			}
			if next == nil {
				return fmt.Errorf("%s has no command %q", where, tok)
			}
			cmd, flags, subs, where = next, next.Flags, next.Subcommands, where+" "+next.Name
			continue
		}
		args = append(args, tok)
	}
	if len(args) > 0 && (cmd == nil || cmd.ArgsUsage == "") {
		return fmt.Errorf("%s takes no arguments, got %q", where, args)
	}
	return nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.TakesValue()
	}
	return true
}

// runShellBlock executes a block marked <!-- run --> in a temp dir with
// gofpm on PATH.
func runShellBlock(t *testing.T, b docBlock) {
	text := b.text
	if b.lang == "console" {
		var cmds []string
		for _, l := range shellLines(text, true) {
			cmds = append(cmds, l.text)
		}
		text = strings.Join(cmds, "\n") + "\n"
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", text)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"), "HOME="+dir)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: running it: %v\n%s", b, err, out)
	}
}

// --- Go -------------------------------------------------------------------

func checkGoBlock(t *testing.T, b docBlock) {
	if !regexp.MustCompile(`(?m)^package \w+`).MatchString(b.text) {
		if !b.marks["fragment"] {
			t.Fatalf("%s: not a program (no package clause): mark it <!-- fragment --> if it is a part of one", b)
		}
		src := "package p\nfunc _() {\n" + b.text + "}\n"
		if _, err := parser.ParseFile(token.NewFileSet(), "fragment.go", src, 0); err != nil {
			t.Errorf("%s: does not parse as Go statements: %v", b, err)
		}
		return
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	os.WriteFile(src, []byte(b.text), 0o644)
	// Built from the repository, so that its imports of this module
	// resolve to this tree.
	cmd := exec.Command("go", "build", "-o", os.DevNull, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: does not build: %v\n%s", b, err, out)
	}
}

// --- everything else ----------------------------------------------------

var (
	argvArrayRe = regexp.MustCompile(`\[\s*"([^"]*/)?gofpm"(\s*,\s*"(?:[^"\\]|\\.)*")*\s*\]`)
	dockerRe    = regexp.MustCompile(`^\s*(?:RUN|CMD|ENTRYPOINT|HEALTHCHECK(?:\s+--\S+)*\s+CMD)\s+(.*)$`)
)

// checkOtherBlock checks the gofpm invocations of a block in any other
// language: JSON argv arrays, and Dockerfile shell-form lines.
func checkOtherBlock(t *testing.T, app *cli.App, b docBlock) {
	sc := bufio.NewScanner(strings.NewReader(b.text))
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		for _, arr := range argvArrayRe.FindAllString(l, -1) {
			var argv []string
			if _, err := toml.Decode("a = "+arr, &struct{ A *[]string }{&argv}); err != nil {
				t.Errorf("%s:%d: %s: %v", b.file, b.line+n, arr, err)
				continue
			}
			if err := checkArgv(app, argv); err != nil {
				t.Errorf("%s:%d: %s: %v", b.file, b.line+n, arr, err)
			}
		}
		if b.lang == "dockerfile" {
			if m := dockerRe.FindStringSubmatch(l); m != nil && !strings.HasPrefix(strings.TrimSpace(m[1]), "[") {
				calls, err := shellCommands(m[1])
				if err != nil {
					t.Errorf("%s:%d: %v", b.file, b.line+n, err)
				}
				for _, argv := range calls {
					if err := checkCall(app, argv); err != nil {
						t.Errorf("%s:%d: %s: %v", b.file, b.line+n, strings.Join(argv, " "), err)
					}
				}
			}
		}
	}
}

// --- links and test names -------------------------------------------------

// TestDocsLinks: every relative link of the docs names a file or folder of
// the repository, and every test the docs name exists.
func TestDocsLinks(t *testing.T) {
	linkRe := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	testRe := regexp.MustCompile("`(Test[A-Z][A-Za-z0-9_]*)`")
	tests := map[string]bool{}
	filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, m := range regexp.MustCompile(`(?m)^func (Test\w+)\(`).FindAllStringSubmatch(string(data), -1) {
			tests[m[1]] = true
		}
		return nil
	})
	for _, file := range docFiles(t) {
		data, _ := os.ReadFile(file)
		for n, l := range strings.Split(string(data), "\n") {
			for _, m := range linkRe.FindAllStringSubmatch(l, -1) {
				target, _, _ := strings.Cut(m[1], "#")
				if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(file), target)); err != nil {
					t.Errorf("%s:%d: link to %q: no such file", file, n+1, m[1])
				}
			}
			for _, m := range testRe.FindAllStringSubmatch(l, -1) {
				if !tests[m[1]] {
					t.Errorf("%s:%d: names %s, which is no test", file, n+1, m[1])
				}
			}
		}
	}
}

// TestDocsChecker: the checker's parts reject what they must.
func TestDocsChecker(t *testing.T) {
	app := newApp()
	for _, tc := range []struct {
		line string
		bad  bool
	}{
		{"gofpm -c /etc/gofpm/pool.toml", false},
		{"gofpm --version", false},
		{"gofpm check -c pool.toml -R   # a comment --bogus", false},
		{"source <(gofpm completion bash)", false},
		{"FOO=1 sudo gofpm status -s /x.sock --format=json 2>&1 | head -n 3", false},
		{`HOME=/tmp gofpm import-php-fpm -o "my pool.toml" 'a.conf' b.conf > /dev/null`, false},
		{"x=$(gofpm ping -s 127.0.0.1:9000) && echo $x", false},
		{"make test docs-check", false},
		{"gofpm chek -c pool.toml", true},
		{"gofpm check --bogus", true},
		{"gofpm check -c", true},
		{"gofpm check -c pool.toml extra", true},
		{"gofpm import-php-fpm www.conf -o pool.toml", true},
		{"gofpm run --version", true},
		{"true && gofpm status --socket /x --graceful", true},
		{"x=$(gofpm pong -s 127.0.0.1:9000)", true},
		{"make no-such-target", true},
		{"docker exec -it web gofpm ping -s unix:/run/gofpm/www.sock", false},
		{"kubectl exec deploy/web -- /usr/local/bin/gofpm status --socket 127.0.0.1:9001", false},
		{"docker run --rm gofpm:latest gofpm chek", true},
		{"kubectl exec web -- gofpm ping --bogus", true},
		{"docker exec gofpm gofpm status -s 127.0.0.1:9000 --full", false},
		{"docker run --rm --name gofpm -p 8080:8080 gofpm:dev", false},
		{"kubectl exec deployment/x -c gofpm -- gofpm status -s unix:/run/x.sock --full", false},
		{"docker exec gofpm gofpm stauts", true},
	} {
		calls, err := shellCommands(tc.line)
		for _, argv := range calls {
			if err == nil {
				err = checkCall(app, argv)
			}
		}
		if (err != nil) != tc.bad {
			t.Errorf("%q: error %v, want bad=%v", tc.line, err, tc.bad)
		}
	}

	md := "text\n\n<!-- fragment -->\n```toml\na = 1\n```\n\n  ```sh\n  gofpm version\n  ```\n````md\n```\n````\n"
	blocks, err := parseBlocks("x.md", md)
	if err != nil || len(blocks) != 3 {
		t.Fatalf("parseBlocks: %v %+v", err, blocks)
	}
	if b := blocks[0]; b.lang != "toml" || !b.marks["fragment"] || b.text != "a = 1\n" || b.line != 4 {
		t.Errorf("block 0: %+v", b)
	}
	if b := blocks[1]; b.lang != "sh" || b.marks["fragment"] || b.text != "gofpm version\n" {
		t.Errorf("block 1: %+v", b)
	}
	if b := blocks[2]; b.lang != "md" || b.text != "```\n" {
		t.Errorf("block 2: %+v", b)
	}
	if _, err := parseBlocks("x.md", "```sh\nopen\n"); err == nil {
		t.Errorf("an unclosed block passed")
	}

	if _, err := os.Stat(nginxPath); err == nil {
		for _, tc := range []struct {
			text string
			bad  bool
		}{
			{"fastcgi_pass unix:/run/gofpm/www.sock;\ninclude fastcgi_params;\n", false},
			{"location ~ \\.php$ {\n    include snippets/fastcgi-php.conf;\n    fastcgi_pass unix:/run/gofpm/www.sock;\n}\n", false},
			{"upstream gofpm {\n    server 127.0.0.1:9000;\n}\n", false},
			{"fastcgi_pas unix:/run/gofpm/www.sock;\n", true},
			{"location / {\n    fastcgi_pass;\n}\n", true},
		} {
			if err := nginxTest(t.TempDir(), tc.text); (err != nil) != tc.bad {
				t.Errorf("nginx %q: %v, want bad=%v", tc.text, err, tc.bad)
			}
		}
	}
	if nginxBraces("a { b { }") == nil || nginxBraces("a } {") == nil || nginxBraces("a '{' { }") != nil {
		t.Errorf("nginxBraces")
	}
}

// TestDocsCLI: docs/cli.md has a section for every command and names
// every flag of it.
func TestDocsCLI(t *testing.T) {
	data, err := os.ReadFile("docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	name := ""
	for _, l := range strings.Split(string(data), "\n") {
		if m := regexp.MustCompile("^## gofpm ([a-z-]+)").FindStringSubmatch(l); m != nil {
			name = m[1]
		} else if strings.HasPrefix(l, "## ") {
			name = ""
		}
		if name != "" {
			sections[name] += l + "\n"
		}
	}
	app := newApp()
	for _, c := range app.Commands {
		if c.Name == "worker" {
			continue
		}
		s, ok := sections[c.Name]
		if !ok {
			t.Errorf("docs/cli.md has no section \"## gofpm %s\"", c.Name)
			continue
		}
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				if !strings.Contains(s, "`"+dashes(n)) && !strings.Contains(s, " "+dashes(n)) {
					t.Errorf("docs/cli.md, gofpm %s: flag %s is not described", c.Name, dashes(n))
				}
			}
		}
	}
}
