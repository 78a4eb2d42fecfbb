package config

// Validation of the global keys, the listen addresses and the [http] table.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// validate checks the whole configuration; psets holds, per pool, the keys
// the file sets.
func (l *loader) validate(c *Config, psets map[string]map[string]bool) {
	switch c.LogLevel {
	case "debug", "notice", "warning", "error":
	default:
		l.errAt(keyPath{"log_level"}, "log_level: unknown level %q (debug, notice, warning or error)", c.LogLevel)
	}
	if c.EmergencyRestartThreshold < 0 {
		l.errAt(keyPath{"emergency_restart_threshold"}, "emergency_restart_threshold (%d) must not be negative", c.EmergencyRestartThreshold)
	} else if c.EmergencyRestartThreshold > 0 && c.EmergencyRestartInterval == 0 {
		l.errAt(keyPath{"emergency_restart_threshold"}, "emergency_restart_interval must be set when emergency_restart_threshold is set")
	}
	l.validateOps(c)
	if l.pools == 0 {
		l.errAt(keyPath{"pool"}, "no pool has been defined (add a [pool.NAME] table)")
	}

	// Listen addresses in use, each with who uses it (php-fpm refuses two
	// pools on one address).
	used := map[string]string{}
	claim := func(addr string, path keyPath, pre, what string) {
		if addr == "" {
			return
		}
		if other, ok := used[addr]; ok {
			l.errAt(path, "%s%s: address %q is already used by %s", pre, path[len(path)-1], addr, other)
			return
		}
		used[addr] = what
	}
	for _, name := range c.PoolOrder {
		p := c.Pools[name]
		l.validatePool(p, psets[name])
		l.validateSuppress(p)
		pre := fmt.Sprintf("pool %q: ", name)
		if listenOK(p.Listen, false) {
			claim(p.Listen, keyPath{"pool", name, "listen"}, pre, fmt.Sprintf("pool %q", name))
		}
		if listenOK(p.PMStatusListen, false) {
			claim(p.PMStatusListen, keyPath{"pool", name, "pm_status_listen"}, pre, fmt.Sprintf("the status listener of pool %q", name))
		}
	}
	if c.HTTP != nil {
		l.validateHTTP(c)
		if listenOK(c.HTTP.Listen, true) {
			claim(c.HTTP.Listen, keyPath{"http", "listen"}, "http: ", "the HTTP front")
		}
	}
	if l.validateMonitor(c) {
		claim(c.MetricsListen, keyPath{"metrics_listen"}, "", "the metrics listener")
	}
}

// listenOK reports whether addr is a well-formed listen address that
// another listener could clash with (port 0 never clashes).
func listenOK(addr string, front bool) bool {
	return addr != "" && checkListen(addr, front) == "" && !strings.HasSuffix(addr, ":0")
}

// checkListen checks a normalised listen address and returns what is
// wrong with it, or "". A pool listens on a unix path or a TCP port 1-65535
// (php-fpm); the HTTP front (front) on TCP only, where port 0 asks the
// kernel for a free port (tests, and the front logs the port it got).
func checkListen(addr string, front bool) string {
	unixOK, minPort := !front, int64(1)
	if front {
		minPort = 0
	}
	if unixOK && filepath.IsAbs(addr) {
		// sun_path holds 108 bytes with the terminating NUL.
		if len(addr) > 107 {
			return fmt.Sprintf("unix socket path %q is too long (%d bytes, the limit is 107)", addr, len(addr))
		}
		return ""
	}
	if unixOK && isUnixAddr(addr) {
		return fmt.Sprintf("invalid unix socket path %q", addr)
	}
	want := `"host:port"`
	if unixOK {
		want = `a unix socket path, "host:port" or "[ipv6]:port"`
	}
	host, port, err := splitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("invalid address %q (want %s)", addr, want)
	}
	if n, ok := digits(port); !ok || n < minPort || n > 65535 {
		return fmt.Sprintf("invalid port value %q (%d-65535)", port, minPort)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && !isHostname(host) {
			return fmt.Sprintf("invalid host %q in %q", host, addr)
		}
	}
	return ""
}

// resolveListen gives the network and addresses of a listen address that
// checkListen accepted.
func resolveListen(addr string) Addr {
	if filepath.IsAbs(addr) {
		return Addr{Network: "unix", Address: addr, Dial: addr}
	}
	host, port, _ := splitHostPort(addr)
	if host == "" {
		host = "127.0.0.1" // listening on every address: dial this machine
	}
	return Addr{Network: "tcp", Address: addr, Dial: net.JoinHostPort(host, port)}
}

// ParseTrusted reads one trusted_proxies entry: an address (IPv4-mapped
// ones unmapped) becomes its single-address prefix, a prefix is masked.
func ParseTrusted(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// splitHostPort splits "host:port" or "[v6]:port" without the net
// package's leniency for unbracketed IPv6.
func splitHostPort(s string) (host, port string, err error) {
	bad := errors.New("bad address")
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 || !strings.HasPrefix(s[end+1:], ":") {
			return "", "", bad
		}
		return s[1:end], s[end+2:], nil
	}
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Contains(s[:i], ":") {
		return "", "", bad
	}
	return s[:i], s[i+1:], nil
}

// isHostname reports whether s looks like a DNS name.
func isHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// validPoolName reports whether name is usable in logs, process titles and
// metrics labels.
func validPoolName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// checkPagePath applies php-fpm's rules for pm.status_path and ping.path.
func (l *loader) checkPagePath(v string, shortOK bool, path keyPath, what string) {
	switch {
	case !strings.HasPrefix(v, "/"):
		l.errAt(path, "%s %q must start with a \"/\"", what, v)
	case len(v) < 2 && !shortOK:
		l.errAt(path, "%s %q is not long enough", what, v)
	case strings.TrimLeft(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-.~") != "":
		l.errAt(path, "%s %q must contain only the following characters '[alphanum]/_-.~'", what, v)
	}
}

// checkAccessFormat checks an access_format against php-fpm's tokens
// (fpm_log.c) and returns what is wrong, or "".
func checkAccessFormat(f string) string {
	args := map[byte][]string{ // allowed %{arg}X values; nil = any non-empty
		'C': {"total", "user", "system"},
		'd': {"seconds", "milliseconds", "milli", "miliseconds", "mili", "microseconds", "micro"},
		'M': {"bytes", "kilobytes", "kilo", "megabytes", "mega"},
		'e': nil, 'o': nil, 't': nil, 'T': nil,
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		arg, hasArg := "", false
		if i < len(f) && f[i] == '{' {
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return fmt.Sprintf("missing \"}\" after %q", f[i-1:])
			}
			arg, hasArg = f[i+1:i+end], true
			i += end + 1
		}
		if i >= len(f) {
			return "the format ends in the middle of a token (write %% for a literal %)"
		}
		c := f[i]
		if !strings.ContainsRune("%CdefMlmnopPqQrRstTu", rune(c)) {
			r, _ := utf8.DecodeRuneInString(f[i:])
			return fmt.Sprintf("invalid token %%%c", r)
		}
		allowed, embrace := args[c]
		switch {
		case hasArg && !embrace:
			return fmt.Sprintf("embrace is not allowed for modifier %%%c", c)
		case (c == 'e' || c == 'o') && arg == "":
			return fmt.Sprintf("%%%c needs an argument, as in %%{NAME}%c", c, c)
		case hasArg && allowed != nil && !slices.Contains(allowed, arg):
			return fmt.Sprintf("%%{%s}%c: the argument must be one of %s", arg, c, strings.Join(allowed, ", "))
		}
	}
	return ""
}

// validateHTTP checks the [http] table.
func (l *loader) validateHTTP(c *Config) {
	h := c.HTTP
	switch {
	case h.Listen == "":
		l.errAt(keyPath{"http", "listen"}, "http: no listen address has been defined")
	default:
		if msg := checkListen(h.Listen, true); msg != "" {
			l.errAt(keyPath{"http", "listen"}, "http: listen: %s", msg)
		}
	}
	if h.DefaultPool != "" && c.Pools[h.DefaultPool] == nil {
		l.errAt(keyPath{"http", "default_pool"}, "http: default_pool: unknown pool %q", h.DefaultPool)
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		key := "tls_cert"
		if h.TLSCert == "" {
			key = "tls_key"
		}
		l.errAt(keyPath{"http", key}, "http: tls_cert and tls_key must be set together")
	}
	for _, ix := range h.Index {
		if ix == "" || strings.Contains(ix, "/") {
			l.errAt(keyPath{"http", "index"}, "http: index: %q is not a file name", ix)
		}
	}
	if h.MaxHeaderBytes < 0 || h.MaxHeaderBytes > 0 && h.MaxHeaderBytes < 1024 {
		l.errAt(keyPath{"http", "max_header_bytes"}, "http: max_header_bytes: %d is below 1024", h.MaxHeaderBytes)
	}
	if h.MaxBodyBytes < 0 {
		l.errAt(keyPath{"http", "max_body_bytes"}, "http: max_body_bytes: %d is negative", h.MaxBodyBytes)
	}
	h.TrustedPrefixes = l.prefixes("trusted_proxies", h.TrustedProxies)
	l.validateHTTPBuffers(h)
	seen := map[string]int{}
	for i, r := range h.Routes {
		at := keyPath{"http", "route", "[" + strconv.Itoa(i) + "]"}
		pre := fmt.Sprintf("http: route #%d: ", i+1)
		switch {
		case r.Prefix == "":
			l.errAt(at, "%sprefix has not been defined", pre)
		case !strings.HasPrefix(r.Prefix, "/"):
			l.errAt(at.add("prefix"), "%sprefix %q must start with a \"/\"", pre, r.Prefix)
		default:
			if j, dup := seen[r.Prefix]; dup {
				l.errAt(at.add("prefix"), "%sprefix %q is already routed by route #%d", pre, r.Prefix, j+1)
			} else {
				seen[r.Prefix] = i
			}
		}
		switch {
		case r.Pool == "":
			l.errAt(at, "%spool has not been defined", pre)
		case c.Pools[r.Pool] == nil:
			l.errAt(at.add("pool"), "%spool: unknown pool %q", pre, r.Pool)
		}
	}
	l.validateFrontSafety(c)
}

// nrOpen is the kernel's ceiling for RLIMIT_NOFILE (fs.nr_open); 0 when
// unknown.
func nrOpen() int64 {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}
