package config

// The monitoring keys: metrics_listen (the master's own Prometheus
// server) and systemd_interval (php-fpm's STATUS= heartbeat).

import "time"

// defaultSystemdInterval is php-fpm's FPM_SYSTEMD_DEFAULT_HEARTBEAT.
const defaultSystemdInterval = Duration(10 * time.Second)

// setMonitorDefaults fills the monitoring keys the file leaves out; an
// explicit systemd_interval = 0 is kept (the heartbeat is off).
func (c *Config) setMonitorDefaults(set func(key string) bool) {
	if !set("systemd_interval") {
		c.SystemdInterval = defaultSystemdInterval
	}
}

// validateMonitor checks metrics_listen and resolves it; it reports
// whether the address may be claimed (it is set, valid and not port 0).
func (l *loader) validateMonitor(c *Config) bool {
	if c.MetricsListen == "" {
		return false
	}
	if msg := checkListen(c.MetricsListen, true); msg != "" {
		l.errAt(keyPath{"metrics_listen"}, "metrics_listen: %s", msg)
		return false
	}
	c.MetricsAddr = resolveListen(c.MetricsListen)
	return listenOK(c.MetricsListen, true)
}
