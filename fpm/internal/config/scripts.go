package config

// This file tells which pools run the script files that requests name
// (php-cgi, the CGI bridge, fcgiwrap) rather than being the application
// themselves (a Go, C, Perl or Python worker): the front checks that such
// a script exists under its root before it asks the pool.

import (
	"path/filepath"
	"strings"
)

// IsPHP reports whether the pool's command is PHP: its base name starts
// with "php" (php-cgi, php-cgi8.2, php82-cgi). Such workers run the file
// named by SCRIPT_FILENAME, and the master starts them with
// -d cgi.fix_pathinfo=0 unless the command sets that itself.
func (p *Pool) IsPHP() bool {
	if p.Worker == "cgi" || len(p.Command) == 0 {
		return false
	}
	return strings.HasPrefix(strings.ToLower(filepath.Base(p.Command[0])), "php")
}

// RunsScripts reports whether the pool's workers run the file a request
// names: the CGI bridge (worker = "cgi"), PHP (IsPHP), and any pool that
// sets security_limit_extensions (a pool of fcgiwrap, or of a script
// around php-cgi, says so this way).
func (p *Pool) RunsScripts() bool {
	return p.Worker == "cgi" || p.IsPHP() || len(p.SecurityLimitExtensions) > 0
}

// ScriptExtensions are the extensions of the files a pool that runs
// scripts may run: security_limit_extensions, else ".php" for PHP
// (php-fpm's default); nil for the CGI bridge without the key, which runs
// any executable file.
func (p *Pool) ScriptExtensions() []string {
	if len(p.SecurityLimitExtensions) > 0 {
		return p.SecurityLimitExtensions
	}
	if p.IsPHP() {
		return []string{".php"}
	}
	return nil
}

// scriptKind names why a pool runs scripts, for error messages.
func (p *Pool) scriptKind() string {
	switch {
	case p.Worker == "cgi":
		return `worker = "cgi"`
	case p.IsPHP():
		return filepath.Base(p.Command[0])
	default:
		return "security_limit_extensions is set"
	}
}
