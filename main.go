// Command gofpm is a FastCGI process manager in the style of php-fpm.
//
//	gofpm -c pool.toml          run the master in the foreground
//	gofpm check -c pool.toml    validate a configuration
//
// See README.md and docs/ for the configuration, signals and pages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/fpm"
	"github.com/gofpm/gofpm/worker"
	"github.com/gofpm/gofpm/worker/cgi"
	"github.com/gofpm/gofpm/worker/proto"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, as php-fpm's: 78 for a configuration error (EX_CONFIG), 70 for
// a failure at run time (EX_SOFTWARE).
const (
	exitConfig  = 78
	exitRuntime = 70
	exitUsage   = 64 // EX_USAGE: a bad flag, no -c, an unknown command
)

func main() {
	// First: no fd this process was started with (3 and up) reaches a
	// worker or a script unless handed over on purpose. Not in `gofpm
	// worker exec`, whose fds are its worker's.
	if len(os.Args) < 3 || os.Args[1] != "worker" || os.Args[2] != "exec" {
		proto.CloseOnExecFrom(3)
	}
	os.Exit(run(os.Args))
}

func run(args []string) int {
	app := newApp()
	if err := app.Run(args); err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := ec.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, "gofpm: "+msg)
			}
			return ec.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "gofpm: "+err.Error())
		return 1
	}
	return 0
}

func configFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "configuration `FILE` (TOML)", EnvVars: []string{"GOFPM_CONFIG"}, TakesFile: true}
}

func rootFlag() *cli.BoolFlag {
	return &cli.BoolFlag{Name: "allow-to-run-as-root", Aliases: []string{"R"}, Usage: "let a root master run pools that set no user as root"}
}

func runFlags() []cli.Flag {
	return append([]cli.Flag{
		phpConfigFlag(),
		rootFlag(),
		&cli.StringFlag{Name: "pid", Usage: "write the master's pid to `FILE` (overrides pid in the config)", TakesFile: true},
		&cli.StringFlag{Name: "log-level", Usage: "debug | notice | warning | error (overrides log_level)"},
		&cli.StringFlag{Name: "log-format", Usage: "console | json (default: console on a terminal, json otherwise)"},
	}, phpFPMFlags()...)
}

// newApp is the command line. Synopses and examples are set by addHelp
// (cli_help.go).
func newApp() *cli.App {
	app := &cli.App{
		Name:                 "gofpm",
		Usage:                "a FastCGI process manager in the style of php-fpm, for every language",
		Version:              version,
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		// Errors are printed and turned into exit codes by run, not by
		// urfave/cli's os.Exit.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags:          runFlags(),
		Action:         runMaster,
		Commands: []*cli.Command{
			{
				Name:   "run",
				Usage:  "run the master in the foreground (the default)",
				Flags:  runFlags(),
				Action: runMaster,
			},
			{
				Name:      "check",
				Usage:     "validate a configuration: FILE:LINE:COL: message per error, exit 1 on any",
				UsageText: "gofpm check -c examples/hello/pool.toml",
				Flags: []cli.Flag{configFlag(), rootFlag(),
					&cli.StringSliceFlag{Name: "as", Usage: "also check that `USER` (a web server's) can connect to each Unix socket; repeatable"}},
				Action: checkConfig,
			},
			{
				Name:  "reload",
				Usage: "validate the configuration, then reload the running master (SIGUSR2) and wait until the new master has taken over",
				Flags: []cli.Flag{configFlag(), rootFlag(), &cli.StringFlag{Name: "pid", Usage: "pid `FILE` (default: pid in the config)", TakesFile: true},
					&cli.DurationFlag{Name: "timeout", Value: 70 * time.Second, Usage: "how long to wait for the new master"}},
				Action: reloadCmd,
			},
			{
				Name:  "stop",
				Usage: "stop the running master: SIGTERM, or SIGQUIT with --graceful",
				Flags: []cli.Flag{configFlag(), &cli.StringFlag{Name: "pid", Usage: "pid `FILE` (default: pid in the config)", TakesFile: true},
					&cli.BoolFlag{Name: "graceful", Usage: "let requests in flight finish"}},
				Action: func(c *cli.Context) error {
					if c.Bool("graceful") {
						return signalMaster(c, syscall.SIGQUIT)
					}
					return signalMaster(c, syscall.SIGTERM)
				},
			},
			{
				Name:  "status",
				Usage: "print a pool's status page, asked over FastCGI (like cgi-fcgi, without it)",
				Flags: []cli.Flag{
					addrFlag(),
					&cli.StringFlag{Name: "path", Value: "/status", Usage: "the pool's pm_status_path"},
					&cli.BoolFlag{Name: "full", Usage: "one block per worker process"},
					&cli.StringFlag{Name: "format", Value: "text", Usage: "text | json | xml | html | openmetrics"},
					&cli.BoolFlag{Name: "watch", Usage: "redraw every second, like top (text format)"},
					&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, Usage: "give up after this long"},
				},
				Action: statusCmd,
			},
			{
				Name:  "ping",
				Usage: "exit 0 if the ping page answers its ping_response, else exit 1 with the reason (health checks)",
				Flags: []cli.Flag{
					addrFlag(),
					&cli.StringFlag{Name: "path", Value: "/ping", Usage: "the pool's ping_path"},
					&cli.StringFlag{Name: "response", Value: "pong", Usage: "the pool's ping_response"},
					&cli.DurationFlag{Name: "timeout", Value: 3 * time.Second, Usage: "give up after this long"},
				},
				Action: pingCmd,
			},
			{
				Name:      "import-php-fpm",
				ArgsUsage: "FILE.conf...",
				Usage:     "translate php-fpm ini files (php-fpm.conf with its includes, pool files) to gofpm TOML",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "php-cgi", Usage: "worker `PROGRAM` for PHP pools (default /usr/bin/php-cgi8.2 if present, else php-cgi)", TakesFile: true},
					&cli.StringFlag{Name: "prefix", Aliases: []string{"p"}, Usage: "php-fpm's -p: resolve relative paths and include patterns against `DIR`", TakesFile: true},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the TOML to `FILE` (default stdout)", TakesFile: true},
					&cli.StringFlag{Name: "pool-dir", Usage: "write each pool to `DIR`/NAME.toml, and include = [\"DIR/*.toml\"] in the main file (php-fpm's pool.d/)", TakesFile: true},
				},
				Action: importPHPFPM,
			},
			{
				Name:   "worker",
				Usage:  "built-in workers run by the master (not by hand)",
				Hidden: true,
				Subcommands: []*cli.Command{{
					Name:  "cgi",
					Usage: "the CGI bridge of pools with worker = \"cgi\": FastCGI on fd 0, CGI scripts under root",
					Action: func(c *cli.Context) error {
						cfg, err := cgi.ConfigFromEnv()
						if err != nil {
							return cli.Exit(err.Error(), exitConfig)
						}
						if err := worker.Serve(cgi.NewBridge(cfg)); err != nil {
							return cli.Exit(err.Error(), exitRuntime)
						}
						return nil
					},
				}, {
					// The trampoline of pools with rlimits, process_priority or
					// chroot: applies them, then execs the worker (fpm.ExecWorker).
					Name:            "exec",
					Usage:           "apply a pool's limits, nice value, chroot and identity, then exec its command",
					SkipFlagParsing: true,
					Action: func(c *cli.Context) error {
						return cli.Exit(fpm.ExecWorker(c.Args().Slice()).Error(), 127)
					},
				}},
			},
			{
				Name:  "version",
				Usage: "print the version, Go version and commit",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "gofpm %s %s %s\n", version, runtime.Version(), commit())
					return nil
				},
			},
			completionCommand(),
			manCommand(),
		},
	}
	addHelp(app)
	return app
}

func commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// load reads the config named by -c, as a master would run it.
func load(c *cli.Context) (*fpm.Config, error) {
	path := c.String("config")
	if path == "" {
		return nil, cli.Exit("no configuration: give -c FILE or set GOFPM_CONFIG", exitUsage)
	}
	return fpm.Load(path, fpm.LoadOptions{AllowRoot: c.Bool("allow-to-run-as-root"), Euid: os.Geteuid()})
}

// isExit reports whether err already carries its exit code (a usage
// error from load).
func isExit(err error) bool {
	var ec cli.ExitCoder
	return errors.As(err, &ec)
}

func checkConfig(c *cli.Context) error {
	cfg, err := load(c)
	if isExit(err) {
		return err
	}
	if err != nil {
		var ce *fpm.ConfigError
		if errors.As(err, &ce) {
			fmt.Fprintln(c.App.ErrWriter, strings.TrimRight(ce.Error(), "\n"))
			return cli.Exit("", 1)
		}
		return cli.Exit(err.Error(), 1)
	}
	for _, line := range cfg.Summary() {
		fmt.Fprintln(c.App.Writer, line)
	}
	lines, ok := fpm.CheckSockets(cfg, c.StringSlice("as"))
	for _, line := range lines {
		fmt.Fprintln(c.App.Writer, line)
	}
	if !ok {
		return cli.Exit(fmt.Sprintf("configuration file %s: the sockets check failed", cfg.Path), 1)
	}
	fmt.Fprintf(c.App.Writer, "configuration file %s test is successful\n", cfg.Path)
	return nil
}

func runMaster(c *cli.Context) error {
	if c.Args().Present() {
		return cli.Exit(fmt.Sprintf("unknown command %q (see gofpm --help)", c.Args().First()), exitUsage)
	}
	if handled, err := phpFPMMode(c); handled {
		return err
	}
	cfg, err := load(c)
	if isExit(err) {
		return err
	}
	if err != nil {
		var ce *fpm.ConfigError
		if errors.As(err, &ce) {
			fmt.Fprintln(c.App.ErrWriter, strings.TrimRight(ce.Error(), "\n"))
			return cli.Exit("", exitConfig)
		}
		return cli.Exit(err.Error(), exitConfig)
	}
	var out io.Writer = os.Stderr
	var lf *fpm.LogFile
	if cfg.ErrorLog == "syslog" {
		sw, err := fpm.OpenSyslog(cfg)
		if err != nil {
			return cli.Exit(err.Error(), exitConfig)
		}
		defer sw.Close()
		out = sw
	} else if cfg.ErrorLog != "" && cfg.ErrorLog != "stderr" {
		if lf, err = fpm.OpenLogFile(cfg.ErrorLog); err != nil {
			return cli.Exit(err.Error(), exitConfig)
		}
		defer lf.Close()
		out = lf
	}
	level := cfg.LogLevel
	if l := c.String("log-level"); l != "" {
		level = l
	}
	tty := lf == nil && isTerminal(os.Stderr)
	log, err := newLogger(out, level, c.String("log-format"), tty)
	if err != nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	exe, _ := os.Executable()
	m := fpm.New(cfg, log, fpm.Options{
		LogFile: lf, PIDFile: c.String("pid"), Executable: exe, Version: version, JSONLog: isJSONLog(out, c.String("log-format"), tty),
		LoadOptions: fpm.LoadOptions{AllowRoot: c.Bool("allow-to-run-as-root"), Euid: os.Geteuid()},
	})
	// Signals first, so none is missed while the master starts: the
	// master carries out what came once its pools are up.
	defer handleSignals(m)()
	if err := m.Run(context.Background()); err != nil {
		log.Error().Err(err).Msg(err.Error())
		return cli.Exit("", exitRuntime)
	}
	return nil
}

// signalMaster sends sig to the master whose pid file the config names.
func signalMaster(c *cli.Context, sig syscall.Signal) error {
	pidFile := c.String("pid")
	if pidFile == "" && c.String("config") == "" {
		return cli.Exit("no pid file: give -c FILE (or set GOFPM_CONFIG) or --pid FILE", exitUsage)
	}
	if pidFile == "" {
		cfg, err := fpm.Load(c.String("config"), fpm.LoadOptions{AllowRoot: true, Euid: os.Geteuid(), SkipCommandCheck: true})
		if err != nil {
			return cli.Exit(err.Error(), 1)
		}
		if cfg.Pid == "" {
			return cli.Exit("the configuration sets no pid file; give --pid FILE", 1)
		}
		pidFile = cfg.Pid
	}
	pid, err := fpm.ReadPIDFile(pidFile)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if err := fpm.VerifyMaster(pid, c.String("config")); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return cli.Exit(fmt.Sprintf("signalling master %d: %v", pid, err), 1)
	}
	return nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func addrFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "socket", Aliases: []string{"s"},
		Usage: "the pool's FastCGI `ADDR`: unix:/path, /path or host:port (required)"}
}

// needSocket is the check for -s: a usage error (64) when it is missing.
func needSocket(c *cli.Context) error {
	if c.String("socket") == "" {
		return cli.Exit(fmt.Sprintf("give the pool's address: gofpm %s -s ADDR", c.Command.Name), exitUsage)
	}
	return nil
}

// askPage sends one GET for path (with query) to the FastCGI address and
// returns the status code and body, as nginx would ask a pool.
func askPage(ctx context.Context, addr, path, query string) (int, []byte, error) {
	uri := path
	if query != "" {
		uri += "?" + query
	}
	network, address, err := fcgi.ParseAddress(addr)
	if err != nil {
		return 0, nil, err
	}
	c := &fcgi.Client{Network: network, Address: address, DialTimeout: 2 * time.Second}
	resp, err := c.Do(ctx, &fcgi.Request{Params: map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": path, "SCRIPT_FILENAME": path, "REQUEST_URI": uri,
		"QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE": "gofpm", "REMOTE_ADDR": "127.0.0.1",
	}})
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func statusCmd(c *cli.Context) error {
	if err := needSocket(c); err != nil {
		return err
	}
	query := ""
	switch f := c.String("format"); f {
	case "text", "":
	case "json", "xml", "html", "openmetrics":
		query = f
	default:
		return cli.Exit(fmt.Sprintf("unknown format %q (text, json, xml, html, openmetrics)", f), exitUsage)
	}
	if c.Bool("full") {
		query = strings.TrimPrefix(query+"&full", "&")
	}
	once := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), c.Duration("timeout"))
		defer cancel()
		code, body, err := askPage(ctx, c.String("socket"), c.String("path"), query)
		if err != nil {
			return cli.Exit(fmt.Sprintf("status from %s: %v", c.String("socket"), err), 1)
		}
		if code != 200 {
			return cli.Exit(fmt.Sprintf("status from %s: HTTP %d: %s (is pm_status_path %q?)", c.String("socket"), code, strings.TrimSpace(string(body)), c.String("path")), 1)
		}
		if c.Bool("watch") {
			// Clear the screen and redraw from the top, like top(1).
			fmt.Fprint(c.App.Writer, "\x1b[H\x1b[2J")
			fmt.Fprintf(c.App.Writer, "gofpm status %s — %s (Ctrl-C to quit)\n\n", c.String("socket"), time.Now().Format("15:04:05"))
		}
		c.App.Writer.Write(body)
		if len(body) > 0 && body[len(body)-1] != '\n' {
			fmt.Fprintln(c.App.Writer)
		}
		return nil
	}
	if !c.Bool("watch") {
		return once()
	}
	for {
		if err := once(); err != nil {
			return err
		}
		time.Sleep(time.Second)
	}
}

func pingCmd(c *cli.Context) error {
	if err := needSocket(c); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration("timeout"))
	defer cancel()
	code, body, err := askPage(ctx, c.String("socket"), c.String("path"), "")
	switch {
	case err != nil:
		return cli.Exit(fmt.Sprintf("ping %s: %v", c.String("socket"), err), 1)
	case code != 200:
		return cli.Exit(fmt.Sprintf("ping %s: HTTP %d (is ping_path %q?)", c.String("socket"), code, c.String("path")), 1)
	case string(body) != c.String("response"):
		return cli.Exit(fmt.Sprintf("ping %s: answered %q, want %q", c.String("socket"), body, c.String("response")), 1)
	}
	fmt.Fprintln(c.App.Writer, string(body))
	return nil
}

func importPHPFPM(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.Exit("give one or more php-fpm configuration files", exitUsage)
	}
	opts := fpm.ImportOptions{PHPCGI: c.String("php-cgi"), Prefix: c.String("prefix")}
	path, dir := c.String("output"), c.String("pool-dir")
	var out []byte
	var pools []fpm.ImportedPool
	var warnings []string
	var err error
	if dir == "" {
		out, warnings, err = fpm.ImportPHPFPM(c.Args().Slice(), opts)
	} else {
		out, pools, warnings, err = fpm.ImportPHPFPMSplit(c.Args().Slice(), opts, includePattern(path, dir))
	}
	if err != nil {
		return cli.Exit(err.Error(), exitConfig)
	}
	for _, w := range warnings {
		fmt.Fprintln(c.App.ErrWriter, "gofpm: warning: "+w)
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return cli.Exit(err.Error(), 1)
		}
		for _, p := range pools {
			if err := writeAtomic(filepath.Join(dir, p.Name+".toml"), p.TOML); err != nil {
				return cli.Exit(err.Error(), 1)
			}
		}
	}
	if path == "" {
		_, err := c.App.Writer.Write(out)
		return err
	}
	if err := writeAtomic(path, out); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	return nil
}

// includePattern is the include pattern that finds the pool files in dir
// from the folder of the main file (path; stdout when empty: the current
// folder).
func includePattern(path, dir string) string {
	from := "."
	if path != "" {
		from = filepath.Dir(path)
	}
	absFrom, err1 := filepath.Abs(from)
	absDir, err2 := filepath.Abs(dir)
	if err1 == nil && err2 == nil {
		dir = absDir
		if rel, err := filepath.Rel(absFrom, absDir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			dir = rel // below the main file: relative, so the tree can move
		}
	}
	return filepath.ToSlash(filepath.Join(dir, "*.toml"))
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// reloadCmd validates the configuration as the master will (so a rejected
// configuration is reported here, with exit 1, and the master is not even
// asked), sends SIGUSR2, and waits until the pid file names a new master:
// the old one hands the pid file over only once the new one is ready.
func reloadCmd(c *cli.Context) error {
	cfg, err := load(c)
	if isExit(err) {
		return err
	}
	if err != nil {
		var ce *fpm.ConfigError
		if errors.As(err, &ce) {
			fmt.Fprintln(c.App.ErrWriter, strings.TrimRight(ce.Error(), "\n"))
			return cli.Exit("the configuration is not valid; the running master keeps its own", 1)
		}
		return cli.Exit(err.Error(), 1)
	}
	pidFile := c.String("pid")
	if pidFile == "" {
		pidFile = cfg.Pid
	}
	if pidFile == "" {
		return cli.Exit("the configuration sets no pid file; give --pid FILE", 1)
	}
	old, err := fpm.ReadPIDFile(pidFile)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if err := fpm.VerifyMaster(old, cfg.Path); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if err := syscall.Kill(old, syscall.SIGUSR2); err != nil {
		return cli.Exit(fmt.Sprintf("signalling master %d: %v", old, err), 1)
	}
	deadline := time.Now().Add(c.Duration("timeout"))
	for time.Now().Before(deadline) {
		if pid, err := fpm.ReadPIDFile(pidFile); err == nil && pid != old {
			fmt.Fprintf(c.App.Writer, "reloaded: master %d handed over to %d\n", old, pid)
			return nil
		}
		if syscall.Kill(old, 0) != nil {
			return cli.Exit(fmt.Sprintf("master %d exited during the reload; see its log", old), 1)
		}
		time.Sleep(100 * time.Millisecond) // polling the pid file: there is no event to wait on
	}
	return cli.Exit(fmt.Sprintf("master %d did not hand over within %s; it keeps serving; see its log", old, c.Duration("timeout")), 1)
}
