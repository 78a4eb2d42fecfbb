package main

// The parts of the command line that are about the command line itself:
// each command's synopsis and examples (shown by --help and in the man
// page), shell completion scripts, and the man page.

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// commandHelp is each command's synopsis and examples. They are kept here,
// apart from the flags in newApp, and set by addHelp; the examples are
// checked against the flags by TestHelpExamplesParse.
var commandHelp = map[string]struct {
	synopsis    string
	description string
	examples    []string
}{
	"": {
		synopsis:    "gofpm [run] -c FILE [-R] [--pid FILE] [--log-level LEVEL] [--log-format console|json]\ngofpm COMMAND [options] [arguments]",
		description: "Without a command, gofpm runs the master (as gofpm run). Every command has --help with examples; docs/cli.md has them all. php-fpm's flags work too: -y/--fpm-config is -c, -t/--test is check, -F/--nodaemonize is accepted (gofpm always runs in the foreground) and -D is refused.",
		examples: []string{
			"gofpm -c /etc/gofpm/pool.toml",
			"gofpm check -c /etc/gofpm/pool.toml",
			"gofpm --nodaemonize --fpm-config /etc/gofpm/pool.toml",
			"gofpm -t -y /etc/gofpm/pool.toml",
			"gofpm status -s unix:/run/gofpm/www-status.sock --full",
			"gofpm import-php-fpm -o pool.toml /etc/php/8.2/fpm/pool.d/www.conf",
		},
	},
	"run": {
		synopsis:    "gofpm run -c FILE [-R] [--pid FILE] [--log-level LEVEL] [--log-format console|json]",
		description: "Start the master in the foreground: it creates the pools' sockets, starts their workers and keeps them at size until a signal stops it (see docs/signals.md). Exit 78 on a configuration error, 70 when the start fails.",
		examples: []string{
			"gofpm run -c /etc/gofpm/pool.toml",
			"gofpm run -c examples/hello/pool.toml -R",
			"gofpm run -c /etc/gofpm/pool.toml --log-format json --log-level debug",
			"GOFPM_CONFIG=/etc/gofpm/pool.toml gofpm run --pid /run/gofpm.pid",
		},
	},
	"check": {
		synopsis:    "gofpm check -c FILE [-R] [--as USER]...",
		description: "Validate a configuration as run would (like php-fpm -t): one FILE:LINE:COL: message line per error and exit 1, or one summary line per pool and exit 0. It also tries each pool's address without changing anything: a socket or port in use (named with the pid holding it) or a socket folder the master cannot write is an error. With --as USER, it tells whether USER could connect to each Unix socket, and the fix when not.",
		examples: []string{
			"gofpm check -c /etc/gofpm/pool.toml",
			"gofpm check -c /etc/gofpm/pool.toml --as www-data",
			"gofpm check -c examples/hello/pool.toml -R",
			"GOFPM_CONFIG=/etc/gofpm/pool.toml gofpm check",
		},
	},
	"reload": {
		synopsis:    "gofpm reload -c FILE [-R] [--pid FILE] [--timeout DURATION]",
		description: "Validate the configuration (exit 1, master untouched, when it is not valid), send SIGUSR2 to the master named by the pid file and wait until the new master has taken over.",
		examples: []string{
			"gofpm reload -c /etc/gofpm/pool.toml",
			"gofpm reload -c /etc/gofpm/pool.toml --timeout 2m",
			"gofpm reload -c /etc/gofpm/pool.toml --pid /run/gofpm.pid",
		},
	},
	"stop": {
		synopsis:    "gofpm stop (-c FILE | --pid FILE) [--graceful]",
		description: "Send SIGTERM (fast stop) or, with --graceful, SIGQUIT (requests in flight finish) to the master named by the pid file.",
		examples: []string{
			"gofpm stop -c /etc/gofpm/pool.toml",
			"gofpm stop -c /etc/gofpm/pool.toml --graceful",
			"gofpm stop --pid /run/gofpm.pid",
		},
	},
	"status": {
		synopsis:    "gofpm status -s ADDR [--path /status] [--full] [--format text|json|xml|html|openmetrics] [--watch] [--timeout DURATION]",
		description: "Ask a pool's status page over FastCGI, as nginx would, and print it. ADDR is the pool's pm_status_listen or, for Go workers, its listen.",
		examples: []string{
			"gofpm status -s unix:/run/gofpm/www-status.sock --full",
			"gofpm status -s 127.0.0.1:9000 --path /status --format json",
			"gofpm status -s /run/gofpm/www-status.sock --format openmetrics",
			"gofpm status -s unix:/run/gofpm/www-status.sock --watch",
		},
	},
	"ping": {
		synopsis:    "gofpm ping -s ADDR [--path /ping] [--response pong] [--timeout DURATION]",
		description: "Ask a pool's ping page over FastCGI: exit 0 and print the answer when it is the expected response, else exit 1 with the reason. For health checks.",
		examples: []string{
			"gofpm ping -s unix:/run/gofpm/www.sock",
			"gofpm ping -s 127.0.0.1:9000 --path /health --response ok",
			"gofpm ping -s /run/gofpm/www-status.sock --timeout 1s",
		},
	},
	"import-php-fpm": {
		synopsis:    "gofpm import-php-fpm [-o FILE] [--pool-dir DIR] [--php-cgi PROGRAM] [-p DIR] FILE.conf...",
		description: "Translate php-fpm.conf (with its include= files) or pool files to gofpm TOML, with a warning on stderr for every directive that has no meaning in gofpm or changes meaning. Options come before the files.",
		examples: []string{
			"gofpm import-php-fpm /etc/php/8.2/fpm/pool.d/www.conf > pool.toml",
			"gofpm import-php-fpm -o /etc/gofpm/pool.toml /etc/php/8.2/fpm/php-fpm.conf",
			"gofpm import-php-fpm --php-cgi /usr/local/bin/php-cgi -p /opt/php -o pool.toml etc/php-fpm.conf",
		},
	},
	"version": {
		synopsis: "gofpm version",
		examples: []string{"gofpm version", "gofpm --version"},
	},
	"completion": {
		synopsis:    "gofpm completion bash|zsh|fish",
		description: "Print a shell completion script. Completion asks gofpm itself (gofpm ... --generate-bash-completion), so it always matches the installed binary.",
		examples: []string{
			"source <(gofpm completion bash)",
			"gofpm completion bash > /etc/bash_completion.d/gofpm",
			"gofpm completion zsh > ~/.zsh/completions/_gofpm",
			"gofpm completion fish > ~/.config/fish/completions/gofpm.fish",
		},
	},
	"man": {
		synopsis: "gofpm man",
		examples: []string{"gofpm man > gofpm.1", "gofpm man | man -l -"},
	},
}

// helpText joins a synopsis and its examples for UsageText.
func helpText(synopsis string, examples []string) string {
	var b strings.Builder
	b.WriteString(synopsis)
	if len(examples) > 0 {
		b.WriteString("\n\nExamples:\n")
		for _, e := range examples {
			b.WriteString("  " + e + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// addHelp sets the synopsis, description and examples of the app and its
// commands from commandHelp, and makes every usage error exit 64.
func addHelp(app *cli.App) {
	h := commandHelp[""]
	app.UsageText = helpText(h.synopsis, h.examples)
	app.Description = h.description
	app.OnUsageError = usageError
	for _, c := range app.Commands {
		if h, ok := commandHelp[c.Name]; ok {
			c.UsageText = helpText(h.synopsis, h.examples)
			c.Description = h.description
		}
		c.OnUsageError = usageError
		c.HideHelpCommand = true
	}
}

// usageError makes a bad flag exit 64 (EX_USAGE) with one line, instead
// of urfave/cli's exit 1 with the whole help.
func usageError(c *cli.Context, err error, _ bool) error {
	return cli.Exit(fmt.Sprintf("%v (see gofpm %s--help)", err, commandPath(c)), exitUsage)
}

func commandPath(c *cli.Context) string {
	// At the top level urfave/cli names the root command after the app.
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		return c.Command.Name + " "
	}
	return ""
}

// completionCommand prints a shell completion script.
func completionCommand() *cli.Command {
	shells := []string{"bash", "zsh", "fish"}
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		BashComplete: func(c *cli.Context) {
			for _, s := range shells {
				fmt.Fprintln(c.App.Writer, s)
			}
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("give one shell: gofpm completion bash|zsh|fish", exitUsage)
			}
			switch c.Args().First() {
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(c.App.Writer, zshCompletion)
				return err
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return cli.Exit(err.Error(), exitRuntime)
				}
				_, err = fmt.Fprint(c.App.Writer, s)
				return err
			}
			return cli.Exit(fmt.Sprintf("unknown shell %q: give bash, zsh or fish", c.Args().First()), exitUsage)
		},
	}
}

// manCommand prints the man page, generated from the command definitions.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page (roff), made from the command definitions",
		Hidden: true,
		Action: func(c *cli.Context) error {
			s, err := c.App.ToManWithSection(1)
			if err != nil {
				return cli.Exit(err.Error(), exitRuntime)
			}
			_, err = fmt.Fprint(c.App.Writer, s)
			return err
		},
	}
}

// bashCompletion asks gofpm for the words that may follow what is typed
// so far; flags that take a file fall back to file names.
const bashCompletion = `# bash completion for gofpm: source <(gofpm completion bash)
_gofpm_complete() {
    local cur prev words
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    COMPREPLY=()
    case "$prev" in
    -c|--config|-y|--fpm-config|-o|--output|--pid|--php-cgi|-p|--prefix|--pool-dir)
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
        ;;
    esac
    words=("${COMP_WORDS[@]:0:COMP_CWORD}")
    if [[ "$cur" == -* ]]; then
        words+=("$cur")
    fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$("${words[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
    return 0
}
complete -o bashdefault -o default -F _gofpm_complete gofpm
`

// zshCompletion does the same for zsh.
const zshCompletion = `#compdef gofpm
# zsh completion for gofpm: source <(gofpm completion zsh), or save it as _gofpm in $fpath
_gofpm() {
    local cur=${words[CURRENT]} prev=${words[CURRENT-1]}
    local -a ask opts
    case $prev in
    -c|--config|-y|--fpm-config|-o|--output|--pid|--php-cgi|-p|--prefix|--pool-dir)
        _files
        return
        ;;
    esac
    ask=(${words[1,CURRENT-1]})
    if [[ $cur == -* ]]; then
        ask+=($cur)
    fi
    opts=(${(f)"$(${ask[@]} --generate-bash-completion 2>/dev/null)"})
    if (( ${#opts} )); then
        compadd -a opts
    else
        _files
    fi
}
if [[ $funcstack[1] == _gofpm ]]; then
    _gofpm "$@"
else
    compdef _gofpm gofpm
fi
`
