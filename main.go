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
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gofpm/gofpm/fpm"
	"github.com/rs/zerolog"
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
)

func main() { os.Exit(run(os.Args)) }

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
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "configuration `FILE` (TOML)", EnvVars: []string{"GOFPM_CONFIG"}}
}

func rootFlag() *cli.BoolFlag {
	return &cli.BoolFlag{Name: "allow-to-run-as-root", Aliases: []string{"R"}, Usage: "let a root master run pools that set no user as root"}
}

func runFlags() []cli.Flag {
	return []cli.Flag{
		configFlag(),
		rootFlag(),
		&cli.StringFlag{Name: "pid", Usage: "write the master's pid to `FILE` (overrides pid in the config)"},
		&cli.StringFlag{Name: "log-level", Usage: "debug | notice | warning | error (overrides log_level)"},
		&cli.StringFlag{Name: "log-format", Usage: "console | json (default: console on a terminal, json otherwise)"},
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:            "gofpm",
		Usage:           "a FastCGI process manager in the style of php-fpm, for every language",
		UsageText:       "gofpm -c pool.toml\ngofpm [command] [options]",
		Version:         version,
		HideHelpCommand: true,
		Flags:           runFlags(),
		Action:          runMaster,
		Commands: []*cli.Command{
			{
				Name:      "run",
				Usage:     "run the master in the foreground (the default)",
				UsageText: "gofpm run -c examples/hello/pool.toml -R",
				Flags:     runFlags(),
				Action:    runMaster,
			},
			{
				Name:      "check",
				Usage:     "validate a configuration: FILE:LINE:COL: message per error, exit 1 on any",
				UsageText: "gofpm check -c examples/hello/pool.toml",
				Flags:     []cli.Flag{configFlag(), rootFlag()},
				Action:    checkConfig,
			},
			{
				Name:      "reload",
				Usage:     "ask the running master (found through the pid file) to reload: SIGUSR2",
				UsageText: "gofpm reload -c pool.toml",
				Flags:     []cli.Flag{configFlag(), &cli.StringFlag{Name: "pid", Usage: "pid `FILE` (default: pid in the config)"}},
				Action:    func(c *cli.Context) error { return signalMaster(c, syscall.SIGUSR2) },
			},
			{
				Name:      "stop",
				Usage:     "stop the running master: SIGTERM, or SIGQUIT with --graceful",
				UsageText: "gofpm stop -c pool.toml --graceful",
				Flags: []cli.Flag{configFlag(), &cli.StringFlag{Name: "pid", Usage: "pid `FILE` (default: pid in the config)"},
					&cli.BoolFlag{Name: "graceful", Usage: "let requests in flight finish"}},
				Action: func(c *cli.Context) error {
					if c.Bool("graceful") {
						return signalMaster(c, syscall.SIGQUIT)
					}
					return signalMaster(c, syscall.SIGTERM)
				},
			},
			{
				Name:  "version",
				Usage: "print the version, Go version and commit",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "gofpm %s %s %s\n", version, runtime.Version(), commit())
					return nil
				},
			},
		},
	}
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
		return nil, cli.Exit("no configuration: give -c FILE or set GOFPM_CONFIG", 64)
	}
	return fpm.Load(path, fpm.LoadOptions{AllowRoot: c.Bool("allow-to-run-as-root"), Euid: os.Geteuid()})
}

func checkConfig(c *cli.Context) error {
	cfg, err := load(c)
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
	fmt.Fprintf(c.App.Writer, "configuration file %s test is successful\n", cfg.Path)
	return nil
}

func runMaster(c *cli.Context) error {
	if c.Args().Present() {
		return cli.Exit(fmt.Sprintf("unknown command %q (see gofpm --help)", c.Args().First()), 64)
	}
	cfg, err := load(c)
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
	if cfg.ErrorLog != "" && cfg.ErrorLog != "stderr" {
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
	log, err := newLogger(out, level, c.String("log-format"), lf == nil && isTerminal(os.Stderr))
	if err != nil {
		return cli.Exit(err.Error(), 64)
	}
	m := fpm.New(cfg, log, fpm.Options{LogFile: lf, PIDFile: c.String("pid")})
	if err := m.Run(context.Background()); err != nil {
		log.Error().Err(err).Msg(err.Error())
		return cli.Exit("", exitRuntime)
	}
	return nil
}

// newLogger builds the root logger: php-fpm-like console lines on a
// terminal, JSON otherwise, unless format says which.
func newLogger(out io.Writer, level, format string, tty bool) (zerolog.Logger, error) {
	var lvl zerolog.Level
	switch strings.ToLower(level) {
	case "debug":
		lvl = zerolog.DebugLevel
	case "", "notice", "info":
		lvl = zerolog.InfoLevel
	case "warning", "warn":
		lvl = zerolog.WarnLevel
	case "error", "alert":
		lvl = zerolog.ErrorLevel
	default:
		return zerolog.Logger{}, fmt.Errorf("log level %q: use debug, notice, warning or error", level)
	}
	switch format {
	case "":
		if tty {
			format = "console"
		} else {
			format = "json"
		}
	case "console", "json":
	default:
		return zerolog.Logger{}, fmt.Errorf("log format %q: use console or json", format)
	}
	if format == "console" {
		out = zerolog.ConsoleWriter{
			Out:           out,
			NoColor:       !tty,
			FieldsExclude: []string{"pool", "pid", "code", "stream", "signal", "component", "listen", "delay", "failures"},
			// php-fpm's layout: [26-Nov-2026 10:00:00] NOTICE: message
			FormatTimestamp: func(i any) string {
				s, _ := i.(string)
				if t, err := time.Parse(time.RFC3339, s); err == nil {
					return t.Local().Format("[02-Jan-2006 15:04:05]")
				}
				return "[" + s + "]"
			},
			FormatLevel: func(i any) string {
				switch i {
				case "debug":
					return "DEBUG:"
				case "info":
					return "NOTICE:"
				case "warn":
					return "WARNING:"
				case "error":
					return "ERROR:"
				}
				return strings.ToUpper(fmt.Sprint(i)) + ":"
			},
		}
	}
	// Milliseconds: operators (and the tests) read the order and spacing
	// of events such as one retire per second.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}

// signalMaster sends sig to the master whose pid file the config names.
func signalMaster(c *cli.Context, sig syscall.Signal) error {
	pidFile := c.String("pid")
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
	if err := syscall.Kill(pid, sig); err != nil {
		return cli.Exit(fmt.Sprintf("signalling master %d: %v", pid, err), 1)
	}
	return nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
