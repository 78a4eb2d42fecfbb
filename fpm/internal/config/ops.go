package config

// The operator keys of issue 17 in one place: log_limit, the syslog keys and
// access_suppress_path (defaults and checks). include is in include.go.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Defaults of the operator keys (php-fpm's, but the ident is ours).
const (
	defaultLogLimit       = 1024
	minLogLimit           = 512 // php-fpm: "log_limit must be greater than 512"
	defaultSyslogFacility = "daemon"
	defaultSyslogIdent    = "gofpm"
	defaultSyslogAddress  = "/dev/log"
)

// SyslogFacilities are the facility names syslog_facility accepts
// (php-fpm's list), in lower case.
var SyslogFacilities = []string{
	"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user", "uucp",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// setOpsDefaults fills log_limit and the syslog keys; set reports whether
// the file sets a key.
func (c *Config) setOpsDefaults(set func(key string) bool) {
	if !set("log_limit") {
		c.LogLimit = defaultLogLimit
	}
	c.SyslogFacility = strings.ToLower(strings.TrimSpace(c.SyslogFacility))
	if c.SyslogFacility == "" {
		c.SyslogFacility = defaultSyslogFacility
	}
	if c.SyslogIdent == "" {
		c.SyslogIdent = defaultSyslogIdent
	}
	if c.SyslogAddress == "" {
		c.SyslogAddress = defaultSyslogAddress
	} else if !filepath.IsAbs(c.SyslogAddress) {
		c.SyslogAddress = filepath.Join(c.Dir, c.SyslogAddress)
	}
}

// validateOps checks the global operator keys.
func (l *loader) validateOps(c *Config) {
	if c.LogLimit < minLogLimit {
		l.errAt(keyPath{"log_limit"}, "log_limit (%d) must be at least %d (php-fpm's rule)", c.LogLimit, minLogLimit)
	}
	if !slices.Contains(SyslogFacilities, c.SyslogFacility) {
		l.errAt(keyPath{"syslog_facility"}, "syslog_facility: unknown facility %q (%s)", c.SyslogFacility, strings.Join(SyslogFacilities, ", "))
	}
	if strings.ContainsAny(c.SyslogIdent, "\x00\n\r") || len(c.SyslogIdent) > 48 {
		l.errAt(keyPath{"syslog_ident"}, "syslog_ident %q: at most 48 bytes, no control characters", c.SyslogIdent)
	}
	if len(c.SyslogAddress) > 107 {
		l.errAt(keyPath{"syslog_address"}, "syslog_address: unix socket path %q is too long (%d bytes, the limit is 107)", c.SyslogAddress, len(c.SyslogAddress))
	}
}

// validateSuppress checks a pool's access_suppress_path as php-fpm checks
// access.suppress_path[]: each value starts with "/".
func (l *loader) validateSuppress(p *Pool) {
	for _, v := range p.AccessSuppressPath {
		if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "\x00\n\r ") {
			l.errAt(keyPath{"pool", p.Name, "access_suppress_path"},
				"pool %q: access_suppress_path: %s must be a request path starting with \"/\" (no spaces or control characters)", p.Name, fmt.Sprintf("%q", v))
		}
	}
}
