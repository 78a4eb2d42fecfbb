package main

// The master's root logger: php-fpm's console layout, JSON, or syslog.

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gofpm/gofpm/fpm"
	"github.com/rs/zerolog"
)

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
	if sw, ok := out.(*fpm.SyslogWriter); ok {
		// syslog: php-fpm's "[LEVEL] message", or the JSON event.
		if format != "" && format != "console" && format != "json" {
			return zerolog.Logger{}, fmt.Errorf("log format %q: use console or json", format)
		}
		sw.JSON = format == "json"
		return zerolog.New(sw).Level(lvl), nil
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

// isJSONLog reports whether newLogger writes JSON for these arguments.
func isJSONLog(out io.Writer, format string, tty bool) bool {
	if _, ok := out.(*fpm.SyslogWriter); ok {
		return format == "json"
	}
	return format == "json" || format == "" && !tty
}
