package config

// Validation of the [http] keys that keep the front a safe PHP host:
// root for pools that run scripts, server_name, pages_allow and
// metrics_path (docs/security.md, "HTTP front").

import (
	"net/netip"
	"os"
	"slices"
	"strconv"
)

// defaultPagesAllow is pages_allow when the file leaves it out: loopback.
var defaultPagesAllow = []string{"127.0.0.0/8", "::1/128"}

// setSafetyDefaults fills server_name and pages_allow when the file
// leaves them out.
func (h *HTTP) setSafetyDefaults(set func(key string) bool) {
	if !set("server_name") {
		h.ServerName = defaultServerName(h.Listen)
	}
	if !set("pages_allow") {
		h.PagesAllow = slices.Clone(defaultPagesAllow)
	}
}

// validateFrontSafety checks and resolves the front's safety keys.
// The defaults are filled in by setSafetyDefaults.
func (l *loader) validateFrontSafety(c *Config) {
	h := c.HTTP
	// No root, no scripts: without a root the front cannot check that a
	// script exists, and SCRIPT_FILENAME would be the URL path taken from /.
	if h.Root == "" {
		if p := c.Pools[h.DefaultPool]; p != nil && p.RunsScripts() {
			l.errAt(keyPath{"http", "default_pool"}, "http: default_pool %q runs the scripts that URLs name (%s), so [http] needs root (the document root, e.g. root = \"/srv/www\")", p.Name, p.scriptKind())
		}
		for i, r := range h.Routes {
			if p := c.Pools[r.Pool]; p != nil && p.RunsScripts() {
				l.errAt(keyPath{"http", "route", "[" + strconv.Itoa(i) + "]", "pool"}, "http: route #%d: pool %q runs the scripts that URLs name (%s), so [http] needs root (the document root, e.g. root = \"/srv/www\")", i+1, p.Name, p.scriptKind())
			}
		}
	}

	if _, err := netip.ParseAddr(h.ServerName); err != nil && !isHostname(h.ServerName) {
		l.errAt(keyPath{"http", "server_name"}, "http: server_name %q is not a host name", h.ServerName)
	}

	h.PagesAllowPrefixes = l.prefixes("pages_allow", h.PagesAllow)

	if h.MetricsPath != "" {
		l.checkPagePath(h.MetricsPath, false, keyPath{"http", "metrics_path"}, "http: metrics_path")
		if p := c.Pools[h.DefaultPool]; p != nil && (h.MetricsPath == p.PMStatusPath || h.MetricsPath == p.PingPath) {
			l.errAt(keyPath{"http", "metrics_path"}, "http: metrics_path %q is a page of the default pool %q already", h.MetricsPath, p.Name)
		}
	}
}

// prefixes resolves an [http] list of IP addresses and CIDR prefixes
// (see ParseTrusted), reporting each bad entry.
func (l *loader) prefixes(key string, list []string) []netip.Prefix {
	var out []netip.Prefix
	for i, a := range list {
		if pfx, err := ParseTrusted(a); err != nil {
			l.errAt(keyPath{"http", key}, "http: %s[%d]: %q is not an IP address or CIDR prefix", key, i, a)
		} else {
			out = append(out, pfx)
		}
	}
	return out
}

// defaultServerName is server_name when the file leaves it out: the host
// of the listen address, or the machine's host name when that is a
// wildcard (or the address is malformed, which validateHTTP reports).
func defaultServerName(listen string) string {
	host, _, err := splitHostPort(listen)
	switch host {
	case "", "0.0.0.0", "::":
		err = os.ErrNotExist
	}
	if err == nil {
		return host
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		return name
	}
	return "localhost"
}
