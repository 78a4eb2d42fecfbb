package config

// Defaults, and the relative paths and listen forms Load normalises.

import (
	"path/filepath"
	"strings"
	"time"
)

// Defaults (php-fpm's unless noted on the field in config.go).
const (
	defaultErrorLog              = "stderr"
	defaultLogLevel              = "notice"
	defaultProcessControlTimeout = Duration(10 * time.Second)
	defaultListenBacklog         = 511
	defaultListenMode            = "0660"
	defaultWorker                = "exec"
	defaultMaxSpawnRate          = 32
	defaultProcessIdleTimeout    = Duration(10 * time.Second)
	defaultPingResponse          = "pong"
	defaultAccessFormat          = `%R - %u %t "%m %r" %s`
	defaultWorkerConcurrency     = 1
	defaultGracefulSignal        = "SIGQUIT"
)

// setDefaults fills the global keys the file leaves out. set reports whether
// the file sets a key, so that an explicit zero is kept where it means
// something.
func (c *Config) setDefaults(set func(key string) bool) {
	if c.ErrorLog == "" {
		c.ErrorLog = defaultErrorLog
	}
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	switch c.LogLevel {
	case "":
		c.LogLevel = defaultLogLevel
	case "warn": // php-fpm's alias
		c.LogLevel = "warning"
	}
	if !set("process_control_timeout") {
		c.ProcessControlTimeout = defaultProcessControlTimeout
	}
	c.setMonitorDefaults(set)
	c.setOpsDefaults(set)
}

// setDefaults fills the pool keys the file leaves out and normalises pm to
// lower case (validatePool puts the signal in canonical case). set reports
// whether the file sets a key.
func (p *Pool) setDefaults(set func(key string) bool) {
	if !set("listen_backlog") {
		p.ListenBacklog = defaultListenBacklog
	}
	if p.ListenMode == "" {
		p.ListenMode = defaultListenMode
	}
	if p.Worker == "" {
		p.Worker = defaultWorker
	}
	p.PM = strings.ToLower(strings.TrimSpace(p.PM))
	if p.PM == "dynamic" && p.PMStartServers == 0 {
		// php-fpm: "pm.start_servers is not set. It's been set to N."
		p.PMStartServers = p.PMMinSpareServers + (p.PMMaxSpareServers-p.PMMinSpareServers)/2
	}
	if !set("pm_max_spawn_rate") {
		p.PMMaxSpawnRate = defaultMaxSpawnRate
	}
	if !set("pm_process_idle_timeout") {
		p.PMProcessIdleTimeout = defaultProcessIdleTimeout
	}
	if p.PingResponse == "" {
		p.PingResponse = defaultPingResponse
	}
	if p.AccessFormat == "" {
		p.AccessFormat = defaultAccessFormat
	}
	if !set("worker_concurrency") {
		p.WorkerConcurrency = defaultWorkerConcurrency
	}
	if p.WorkerGracefulSignal == "" {
		p.WorkerGracefulSignal = defaultGracefulSignal
	}
	p.setDispatchDefaults(set)
}

// setDefaults fills the [http] keys the file leaves out.
func (h *HTTP) setDefaults(c *Config, set func(key string) bool) {
	if !set("index") {
		h.Index = []string{"index.php"}
	}
	if h.DefaultPool == "" && !set("default_pool") && len(c.PoolOrder) == 1 {
		h.DefaultPool = c.PoolOrder[0]
	}
	def := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&h.ReadHeaderTimeout, 10*time.Second)
	def(&h.IdleTimeout, 75*time.Second)
	def(&h.ConnectTimeout, 5*time.Second)
	def(&h.ReadTimeout, 60*time.Second)
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = 64 << 10
	}
	if h.MaxBodyBytes == 0 {
		h.MaxBodyBytes = 8 << 20
	}
	h.setSafetyDefaults(set)
	h.HTTPBuffers.setDefaults(set)
}

// isUnixAddr reports whether a listen value names a Unix socket: it contains
// a "/" or starts with "unix:". "www.sock" alone is not one; write
// "./www.sock" or "unix:www.sock".
func isUnixAddr(s string) bool {
	return strings.HasPrefix(s, "unix:") || strings.Contains(s, "/")
}

// resolvePaths makes the file's relative paths absolute against c.Dir and
// normalises listen addresses ("unix:" stripped, "9000" → ":9000").
func (c *Config) resolvePaths() {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(c.Dir, *p)
		}
	}
	listen := func(p *string) {
		if isUnixAddr(*p) {
			*p = strings.TrimPrefix(*p, "unix:")
			if *p != "" {
				abs(p)
				*p = filepath.Clean(*p)
			}
		} else if _, ok := digits(*p); ok {
			*p = ":" + *p
		}
	}
	abs(&c.Pid)
	if c.ErrorLog != "stderr" && c.ErrorLog != "syslog" {
		abs(&c.ErrorLog)
	}
	for _, p := range c.Pools {
		listen(&p.Listen)
		listen(&p.PMStatusListen)
		abs(&p.Root)
		if p.Chroot == "" {
			abs(&p.Chdir)
		}
		if len(p.Command) > 0 && strings.Contains(p.Command[0], "/") {
			abs(&p.Command[0])
		}
		abs(&p.Slowlog)
		abs(&p.AccessLog)
	}
	if c.HTTP != nil {
		abs(&c.HTTP.Root)
		abs(&c.HTTP.TLSCert)
		abs(&c.HTTP.TLSKey)
		abs(&c.HTTP.TempDir)
	}
}
