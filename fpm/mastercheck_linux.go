//go:build linux

package fpm

// This file tells whether the pid in a pid file is a gofpm master, and
// the master of a given configuration, before `gofpm stop` or `gofpm
// reload` signals it: a stale pid file, one a pid was reused for, or one
// someone else wrote, must not make gofpm signal another process.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// valueFlags are the master's flags that take the next argument as their
// value (urfave/cli also accepts --flag=value).
var valueFlags = map[string]bool{
	"c": true, "config": true, "y": true, "fpm-config": true,
	"pid": true, "log-level": true, "log-format": true, "p": true, "prefix": true, "g": true,
}

// VerifyMaster returns nil when pid is a running gofpm master and, when
// config is not "", the master of that configuration file (the same file,
// whatever path names it); otherwise an error that says, in one line,
// what pid is instead.
func VerifyMaster(pid int, config string) error {
	dir := "/proc/" + strconv.Itoa(pid)
	raw, err := os.ReadFile(dir + "/cmdline")
	if err != nil || len(raw) == 0 {
		return fmt.Errorf("no gofpm master has pid %d (is the pid file stale?)", pid)
	}
	args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
	exe, _ := os.Readlink(dir + "/exe")
	exe = strings.TrimSuffix(exe, " (deleted)") // the binary was replaced since
	if !isGofpm(exe, args[0]) {
		return fmt.Errorf("process %d is not gofpm (%s); is the pid file stale?", pid, describeArgs(args))
	}
	theirs, command := masterArgs(args[1:])
	if command != "" && command != "run" {
		return fmt.Errorf("process %d is `gofpm %s`, not a master; is the pid file stale?", pid, command)
	}
	if config == "" {
		return nil
	}
	if theirs == "" {
		theirs = environValue(dir+"/environ", "GOFPM_CONFIG")
	}
	if theirs == "" {
		return fmt.Errorf("process %d is a gofpm master, but which configuration it runs cannot be told (%s)", pid, describeArgs(args))
	}
	if !filepath.IsAbs(theirs) {
		cwd, err := os.Readlink(dir + "/cwd")
		if err != nil {
			return fmt.Errorf("process %d is a gofpm master of %s, relative to a folder that cannot be read: %v", pid, theirs, err)
		}
		theirs = filepath.Join(cwd, theirs)
	}
	a, err1 := os.Stat(theirs)
	b, err2 := os.Stat(config)
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		return fmt.Errorf("process %d is the gofpm master of %s, not of %s", pid, theirs, config)
	}
	return nil
}

// isGofpm reports whether a process whose executable is exe (may be ""
// when it cannot be read) and whose argv[0] is argv0 runs gofpm: the same
// binary as this one, or one named gofpm*.
func isGofpm(exe, argv0 string) bool {
	if exe != "" {
		if self, err := os.Executable(); err == nil {
			if a, err1 := os.Stat(self); err1 == nil {
				if b, err2 := os.Stat(exe); err2 == nil && os.SameFile(a, b) {
					return true
				}
			}
		}
		return strings.HasPrefix(filepath.Base(exe), "gofpm")
	}
	return strings.HasPrefix(filepath.Base(argv0), "gofpm")
}

// masterArgs finds the configuration flag's value and the command word
// (the first argument that is not a flag nor a flag's value) in a master's
// arguments.
func masterArgs(args []string) (config, command string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if command == "" {
				command = a
			}
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !valueFlags[name] {
			continue
		}
		if !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		switch name {
		case "c", "config", "y", "fpm-config":
			config = value
		}
	}
	return config, command
}

// environValue reads one variable of /proc/PID/environ; "" when it is
// not set or cannot be read (another user's process).
func environValue(path, name string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(name+"=")); ok {
			return string(v)
		}
	}
	return ""
}

// describeArgs is a process's command line, cut to a readable length.
func describeArgs(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
