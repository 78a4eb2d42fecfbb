package config

import (
	"strings"
	"testing"
	"time"
)

// TestConfigMonitor: metrics_listen is a TCP "host:port" resolved into
// MetricsAddr, may not share an address with another listener, and
// systemd_interval keeps php-fpm's forms (seconds) and an explicit 0.
func TestConfigMonitor(t *testing.T) {
	const pool = "[pool.www]\nlisten = \"127.0.0.1:9000\"\ncommand = [\"/bin/sh\"]\npm = \"static\"\npm_max_children = 1\n"
	good := []struct {
		head     string
		addr     Addr
		interval time.Duration
	}{
		{"", Addr{}, 10 * time.Second},
		{`metrics_listen = "127.0.0.1:9253"`, Addr{"tcp", "127.0.0.1:9253", "127.0.0.1:9253"}, 10 * time.Second},
		{`metrics_listen = ":9253"`, Addr{"tcp", ":9253", "127.0.0.1:9253"}, 10 * time.Second},
		{`metrics_listen = "[::1]:9253"`, Addr{"tcp", "[::1]:9253", "[::1]:9253"}, 10 * time.Second},
		{"systemd_interval = 0", Addr{}, 0},
		{"systemd_interval = 30", Addr{}, 30 * time.Second},
		{`systemd_interval = "500ms"`, Addr{}, 500 * time.Millisecond},
	}
	for _, c := range good {
		cfg, err := Load(writeConfig(t, c.head+"\n"+pool), LoadOptions{Euid: 1000})
		if err != nil {
			t.Errorf("%q: %v", c.head, err)
			continue
		}
		if cfg.MetricsAddr != c.addr || cfg.SystemdInterval.D() != c.interval {
			t.Errorf("%q: MetricsAddr %+v, SystemdInterval %s; want %+v, %s", c.head, cfg.MetricsAddr, cfg.SystemdInterval.D(), c.addr, c.interval)
		}
	}
	bad := []struct{ head, want string }{
		{`metrics_listen = "/run/gofpm/metrics.sock"`, `1:1: metrics_listen: invalid address "/run/gofpm/metrics.sock" (want "host:port")`},
		{`metrics_listen = "127.0.0.1:70000"`, `1:1: metrics_listen: invalid port value "70000" (0-65535)`},
		{`metrics_listen = "127.0.0.1:9000"`, `1:1: metrics_listen: address "127.0.0.1:9000" is already used by pool "www"`},
		{`systemd_interval = "-1s"`, `systemd_interval`},
	}
	for _, c := range bad {
		if got := loadErr(t, c.head+"\n"+pool, LoadOptions{Euid: 1000}); !strings.Contains(got, c.want) {
			t.Errorf("%q: error %q, want %q", c.head, got, c.want)
		}
	}
}
